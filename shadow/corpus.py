"""The recorded-traffic corpus: JSON Lines, one redacted exchange per line.

Written by ``strangler record`` (and HAR import), read by the parity plugin and by the load
scenarios. One line::

    {"route": "GET /orgs/{slug}", "method": "GET", "path": "/orgs/acme", "query": "",
     "headers": [["accept", "application/json"]], "body_b64": "",
     "response": {"status": 200, "headers": [["content-type", "application/json"]],
                  "body_b64": "eyJ..."}}

``response`` is legacy's answer when recorded (optional). Bodies are base64 so binary
survives; secrets are redacted before a line is written.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from shadow.exchange import CapturedRequest, CapturedResponse

__all__ = ["CorpusEntry", "from_json", "read_corpus", "to_json", "write_corpus"]

CorpusEntry = tuple[CapturedRequest, CapturedResponse | None]


def _b64(data: bytes | None) -> str:
    return base64.b64encode(data or b"").decode("ascii")


def to_json(request: CapturedRequest, response: CapturedResponse | None) -> dict[str, Any]:
    """One corpus line as a JSON-ready dict."""
    line: dict[str, Any] = {
        "route": request.route,
        "method": request.method,
        "path": request.path,
        "query": request.query,
        "headers": [list(h) for h in request.headers],
        "body_b64": _b64(request.body),
    }
    if response is not None:
        line["response"] = {
            "status": response.status,
            "headers": [list(h) for h in response.headers],
            "body_b64": _b64(response.body),
        }
    return line


def from_json(line: dict[str, Any]) -> CorpusEntry:
    """Parse one corpus line (as a dict); raises KeyError/ValueError on a malformed line."""
    request = CapturedRequest(
        method=str(line["method"]).upper(),
        path=str(line["path"]),
        query=str(line.get("query", "")),
        headers=tuple((str(k).lower(), str(v)) for k, v in line.get("headers", [])),
        body=base64.b64decode(line.get("body_b64", "")),
        route=str(line.get("route", "")),
    )
    resp = line.get("response")
    response = None
    if resp is not None:
        response = CapturedResponse(
            status=int(resp["status"]),
            headers=tuple((str(k).lower(), str(v)) for k, v in resp.get("headers", [])),
            body=base64.b64decode(resp.get("body_b64", "")),
        )
    return request, response


def read_corpus(path: str | Path) -> Iterator[CorpusEntry]:
    """Read a corpus file; a malformed line raises ValueError naming the file and line."""
    with Path(path).open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                yield from_json(orjson.loads(raw))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{path}:{number}: not a corpus entry ({exc})") from exc


def write_corpus(path: str | Path, entries: Iterable[CorpusEntry]) -> int:
    """Write entries as JSON Lines; returns how many were written."""
    count = 0
    with Path(path).open("wb") as fh:
        for request, response in entries:
            fh.write(orjson.dumps(to_json(request, response)) + b"\n")
            count += 1
    return count
