"""The legacy and new test apps: raw ASGI (and one WSGI) apps that say which side answered.

Each app records the requests it saw (method, path, headers, body) in ``calls`` so a test
can prove a side was, or was not, called.

Paths:
- ``/echo/...``: JSON of what arrived: side, method, raw path, query, headers, body
- ``/status/{code}``: that status, with a body unless HEAD/204/304
- ``/sleep?s=``: waits, then answers
- ``/stream``: one chunk, then waits for ``release`` (a threading.Event), then the rest
- ``/upload``: reads the body chunk by chunk, sets ``got_first_chunk`` on the first one
- ``/cookies/set?user=``: two Set-Cookie headers; ``/cookies/show``: the Cookie it got
- ``/gzip``: a gzip-compressed JSON body with ``Content-Encoding: gzip``
- ``/hop``: an answer carrying hop-by-hop headers that must not reach the client
"""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from strangler._types import Receive, Scope, Send

GZIPPED = gzip.compress(json.dumps({"compressed": True, "pad": "x" * 500}).encode(), mtime=0)


@dataclass
class Call:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class SideApp:
    """A raw ASGI test app for one side."""

    side: str
    calls: list[Call] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    got_first_chunk: threading.Event = field(default_factory=threading.Event)
    lifespan_started: bool = False

    def header_values(self, name: str) -> list[str]:
        """Values of header ``name`` on the last call."""
        return [v for k, v in self.calls[-1].headers if k == name]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    self.lifespan_started = True
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path: str = scope["path"]
        query = parse_qs(scope["query_string"].decode())
        if path == "/upload":
            body = await self._read(receive, first=self.got_first_chunk)
        else:
            body = await self._read(receive)
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        self.calls.append(Call(scope["method"], path, headers, body))
        head = scope["method"] == "HEAD"
        if path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            text = b"" if code in (204, 304) else f"{self.side} says {code}".encode()
            await _answer(send, code, text, head=head)
        elif path == "/sleep":
            await asyncio.sleep(float(query.get("s", ["1"])[0]))
            await _answer(send, 200, self.side.encode())
        elif path == "/stream":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"first;", "more_body": True})
            released = await asyncio.to_thread(self.release.wait, 20)
            rest = b"rest" if released else b"never-released"
            await send({"type": "http.response.body", "body": rest})
        elif path == "/cookies/set":
            user = query.get("user", ["?"])[0]
            extra = [(b"set-cookie", f"session={user}; Path=/".encode()), (b"set-cookie", b"b=2")]
            await _answer(send, 200, b"ok", extra=extra)
        elif path == "/cookies/show":
            cookie = dict(headers).get("cookie", "")
            await _answer(send, 200, cookie.encode())
        elif path == "/gzip":
            extra = [(b"content-encoding", b"gzip"), (b"content-type", b"application/json")]
            await _answer(send, 200, GZIPPED, extra=extra, head=head)
        elif path == "/hop":
            extra = [
                (b"connection", b"x-private"),
                (b"x-private", b"secret"),
                (b"proxy-authenticate", b"Basic"),
                (b"x-multi", b"1"),
                (b"x-multi", b"2"),
            ]
            await _answer(send, 200, b"ok", extra=extra)
        else:
            payload = {
                "side": self.side,
                "method": scope["method"],
                "path": path,
                "raw_path": scope["raw_path"].decode("latin-1"),
                "query": scope["query_string"].decode("latin-1"),
                "headers": headers,
                "body": body.decode("latin-1"),
            }
            data = json.dumps(payload).encode()
            await _answer(
                send, 200, data, extra=[(b"content-type", b"application/json")], head=head
            )

    @staticmethod
    async def _read(receive: Receive, first: threading.Event | None = None) -> bytes:
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            if chunk:
                chunks.append(chunk)
                if first is not None:
                    first.set()
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


async def _answer(
    send: Send,
    status: int,
    body: bytes,
    *,
    extra: Iterable[tuple[bytes, bytes]] = (),
    head: bool = False,
) -> None:
    headers = [(b"content-length", str(len(body)).encode()), (b"x-side-status", b"%d" % status)]
    headers += list(extra)
    if status in (204, 304):
        headers = headers[1:]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send(
        {"type": "http.response.body", "body": b"" if head or status in (204, 304) else body}
    )


# In-process backends, named by "module:attr" in the config.
legacy_asgi = SideApp("legacy")
new_asgi = SideApp("new")


def legacy_wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """A WSGI legacy app: echoes method, path and body."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    payload = {
        "side": "legacy-wsgi",
        "method": environ["REQUEST_METHOD"],
        "path": environ["PATH_INFO"],
        "query": environ.get("QUERY_STRING", ""),
        "body": body.decode("latin-1"),
        "host": environ.get("HTTP_HOST", ""),
    }
    data = json.dumps(payload).encode()
    start_response(
        "200 OK",
        [("Content-Type", "application/json"), ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")],
    )
    return [data]


async def crashing_asgi(scope: Scope, receive: Receive, send: Send) -> None:
    """An ASGI app that fails before answering (a bug in the app)."""
    if scope["type"] == "http":
        raise RuntimeError("boom")
