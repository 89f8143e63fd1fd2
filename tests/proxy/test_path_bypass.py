"""No path reaches a side its route does not allow: a corpus of bypass variants.

``GET /admin/{rest:path}`` is ``retired`` (legacy must never see it) and
``GET /v2/{rest:path}`` is ``new``; everything else falls to the catch-all (legacy). Each
variant is sent as raw bytes (an HTTP client would clean the path first). Legacy records
every path it receives; each is then resolved the way a lenient server might (decoding
escapes twice, overlong UTF-8, ``\\`` as ``/``, ``;`` parameters stripped, ``//`` merged,
dot segments resolved). None may resolve into ``/admin`` or ``/v2``.
"""

from __future__ import annotations

import posixpath
import re
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_to_bytes

import pytest

from strangler.config import parse_config
from strangler.proxy import SERVER_SETTINGS, Proxy
from tests.conftest import LiveServer, start_server

PROTECTED = ("admin", "v2")
TEMPLATES = [
    "/public/../{p}/secret",
    "/public/%2e%2e/{p}/secret",
    "/public/%2E%2E/{p}/secret",
    "/public/.%2e/{p}/secret",
    "/public/%2e./{p}/secret",
    "/public/..%2f{p}/secret",
    "/public/..%2F{p}/secret",
    "/public/%252e%252e/{p}/secret",
    "/public/..%252f{p}/secret",
    "/public/..%5c{p}/secret",
    "/public/..%5C{p}/secret",
    "/public/..\\{p}/secret",
    "/public/..;/{p}/secret",
    "/public/%2e%2e;/{p}/secret",
    "/{p};x=1/secret",
    "/{p};/secret",
    "//{p}/secret",
    "///{p}//secret",
    "/./{p}/secret",
    "/public/./../{p}/secret",
    "/x/y/../../{p}/secret",
    "/public/%c0%ae%c0%ae/{p}/secret",
    "/public/%c0%af../{p}/secret",
    "/public/%e0%80%ae%e0%80%ae/{p}/secret",
    "/public/..%00/{p}/secret",
    "/public%2f..%2f{p}/secret",
    "/public/%2e%2e%2f{p}/secret",
    "/public/..%2f..%2f{p}/secret",
    "/public/./%2e%2e/./{p}/secret",
    "/%2e%2e/{p}/secret",
    "/{p}%2fsecret",
    "/%70ublic/../{p}/secret",
    "/public/%2E%2e/%2e/{p}/secret",
    "/public/..%u002f{p}/secret",
    "/public\\..\\{p}/secret",
    "/public;x/../{p}/secret",
    "/public/%252E%252E%252F{p}/secret",
    "/public/%c0%ae%c0%ae%c0%af{p}/secret",
    "/public/..%c0%af{p}/secret",
    "/public/%2e%2e%00/../{p}/secret",
    "/public/%2%65%2e/{p}/secret",
    "/../{p}/secret",
    "/public//../{p}/secret",
    "/public/%2e%2e%2F%2e%2e%2f{p}/secret",
]


def lenient(raw: bytes) -> str:
    """What the most forgiving backend could make of ``raw``."""
    path = raw
    for _ in range(3):  # a server behind another server may decode twice or more
        path = unquote_to_bytes(path)
    path = path.replace(b"\xc0\xae", b".").replace(b"\xe0\x80\xae", b".").replace(b"\xc0\xaf", b"/")
    text = path.decode("latin-1").replace("\\", "/").replace("\x00", "")
    text = "/".join(seg.split(";", 1)[0] for seg in text.split("/"))
    text = re.sub(r"/+", "/", text)
    return posixpath.normpath(text)


def _recorder(side: str, seen: list[bytes]) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        seen.append(scope.get("raw_path") or scope["path"].encode())
        body = side.encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.fixture(scope="module")
def setup() -> Iterator[tuple[LiveServer, list[bytes], list[bytes]]]:
    legacy_seen: list[bytes] = []
    new_seen: list[bytes] = []
    legacy = start_server(_recorder("legacy", legacy_seen))
    new = start_server(_recorder("new", new_seen))
    cfg = parse_config(
        {
            "legacy": legacy.url,
            "new": new.url,
            "routes": [
                {"route": "GET /admin/{rest:path}", "mode": "retired"},
                {"route": "GET /v2/{rest:path}", "mode": "new"},
            ],
        }
    )
    proxy = start_server(Proxy(cfg), **SERVER_SETTINGS)  # as `strangler serve` runs it
    yield proxy, legacy_seen, new_seen
    for server in (proxy, new, legacy):
        server.stop()


def _raw_get(port: int, path: bytes) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return status, body


VARIANTS = [t.format(p=p).encode("latin-1") for p in PROTECTED for t in TEMPLATES]


def test_the_corpus_is_large_and_every_variant_aims_at_a_protected_prefix() -> None:
    assert len(TEMPLATES) >= 30
    aimed = [v for v in VARIANTS if lenient(v).startswith(("/admin", "/v2"))]
    assert len(aimed) >= 60, [v for v in VARIANTS if v not in aimed]


def test_no_variant_reaches_legacy(setup: tuple[LiveServer, list[bytes], list[bytes]]) -> None:
    proxy, legacy_seen, new_seen = setup
    answers: dict[bytes, tuple[int, bytes]] = {}
    for variant in VARIANTS:
        answers[variant] = _raw_get(proxy.port, variant)
    leaked = [p for p in legacy_seen if lenient(p).startswith(("/admin", "/v2"))]
    assert leaked == []
    # each variant was either refused (400 from the proxy, or the server's own 4xx) or
    # served by new with a clean path inside the protected tree
    for variant, (status, body) in answers.items():
        assert status == 400 or (status == 200 and body == b"new") or 400 <= status < 500, (
            variant,
            status,
            body,
        )
    assert new_seen, "no variant was served at all"
    assert all(lenient(p) == p.decode("latin-1").rstrip("/") or p.endswith(b"/") for p in new_seen)
    refused = sum(1 for status, _ in answers.values() if status == 400)
    assert refused >= 30
    # the plain paths still work
    assert _raw_get(proxy.port, b"/admin/secret") == (200, b"new")
    assert _raw_get(proxy.port, b"/public/page") == (200, b"legacy")
