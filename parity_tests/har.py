"""Read HAR 1.2 files (browsers, schemathesis, proxies) as corpus exchanges.

Each HAR entry gives a request and the answer it got. Bodies may be text or base64
(``"encoding": "base64"``); HAR stores response bodies decoded, so ``content-encoding``
and ``content-length`` are dropped from the recorded response headers. HTTP/2
pseudo-headers (``:authority``) and hop-by-hop headers are dropped from both sides::

    >>> for request, response in read_har("session.har"):       # doctest: +SKIP
    ...     print(request.method, request.path, response.status)
    GET /orgs/acme 200
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from parity_tests.replay import CONNECTION_HEADERS
from shadow.corpus import CorpusEntry
from shadow.exchange import CapturedRequest, CapturedResponse, Headers
from strangler import ConfigError

__all__ = ["parse_har", "read_har"]

_DROP_RESPONSE = CONNECTION_HEADERS | {"content-encoding"}


def read_har(path: str | Path) -> Iterator[CorpusEntry]:
    """The exchanges of a HAR file; a malformed file raises ConfigError naming what is wrong."""
    name = str(path)
    try:
        data = orjson.loads(Path(path).read_bytes())
    except FileNotFoundError:
        raise ConfigError("", name, "an existing HAR file", file=name) from None
    except orjson.JSONDecodeError as exc:
        raise ConfigError("", str(exc), "a HAR file (JSON)", file=name) from None
    yield from parse_har(data, source=name)


def parse_har(data: Any, *, source: str | None = None) -> Iterator[CorpusEntry]:
    """The exchanges of already-parsed HAR data (``{"log": {"entries": [...]}}``)."""
    entries = data.get("log", {}).get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ConfigError("log.entries", None, "a HAR 1.2 document with a list", file=source)
    for index, entry in enumerate(entries):
        where = f"log.entries[{index}]"
        try:
            yield _entry(entry)
        except (KeyError, TypeError, ValueError, AttributeError, binascii.Error) as exc:
            raise ConfigError(where, str(exc), "a HAR entry with a request", file=source) from None


def _headers(items: Any, drop: frozenset[str]) -> Headers:
    out = []
    for item in items or ():
        name = str(item["name"]).lower()
        if name.startswith(":") or name in drop:
            continue
        out.append((name, str(item["value"])))
    return tuple(out)


def _body(text: Any, encoding: Any) -> bytes:
    if text is None or text == "":
        return b""
    if encoding == "base64":
        return base64.b64decode(str(text), validate=True)
    return str(text).encode("utf-8")


def _entry(entry: dict[str, Any]) -> CorpusEntry:
    req = entry["request"]
    url = urlsplit(str(req["url"]))
    post = req.get("postData") or {}
    headers = _headers(req.get("headers"), CONNECTION_HEADERS)
    mime = post.get("mimeType")
    if mime and not any(name == "content-type" for name, _ in headers):
        headers = (*headers, ("content-type", str(mime)))
    request = CapturedRequest(
        method=str(req["method"]).upper(),
        path=url.path or "/",
        query=url.query,
        headers=headers,
        body=_body(post.get("text"), post.get("encoding")),
    )
    resp = entry.get("response")
    response = None
    if isinstance(resp, dict) and int(resp.get("status", 0)) > 0:
        content = resp.get("content") or {}
        response = CapturedResponse(
            status=int(resp["status"]),
            headers=_headers(resp.get("headers"), _DROP_RESPONSE),
            body=_body(content.get("text"), content.get("encoding")),
            elapsed_ms=float(entry.get("time") or 0.0),
        )
    return request, response
