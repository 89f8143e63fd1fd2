"""A small scriptable ASGI backend for shadow tests: per-path handlers, recorded calls."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

Answer = tuple[int, list[tuple[str, str]], bytes]
#: A handler header that makes the answer go out chunked, in two pieces (not sent itself).
CHUNKED = ("x-test-chunked", "1")
Handler = Callable[["Call"], Answer]


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


def json_answer(doc: Any, status: int = 200, **headers: str) -> Answer:
    extra = [(k.replace("_", "-"), v) for k, v in headers.items()]
    return status, [("content-type", "application/json"), *extra], orjson.dumps(doc)


@dataclass
class Backend:
    """``handlers[path](call) -> (status, headers, body)``; ``hold`` paths wait for ``release``."""

    name: str
    handlers: dict[str, Handler] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    hold: set[str] = field(default_factory=set)
    release: threading.Event = field(default_factory=threading.Event)

    def count(self, method: str, path: str) -> int:
        return sum(1 for c in self.calls if c.method == method and c.path == path)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        call = Call(
            scope["method"],
            scope["path"],
            scope["query_string"].decode(),
            {k.decode(): v.decode() for k, v in scope["headers"]},
            body,
        )
        self.calls.append(call)
        if scope["path"] in self.hold:
            await asyncio.to_thread(self.release.wait, 20)  # never longer than a test
        handler = self.handlers.get(scope["path"])
        if handler is None:
            status, headers, data = json_answer({"error": "not found", "side": self.name}, 404)
        else:
            status, headers, data = handler(call)
        raw = [(k.encode(), v.encode()) for k, v in headers if k != CHUNKED[0]]
        if (CHUNKED[0], CHUNKED[1]) in headers:  # no length: the server sends it chunked
            await send({"type": "http.response.start", "status": status, "headers": raw})
            half = len(data) // 2
            await send({"type": "http.response.body", "body": data[:half], "more_body": True})
            await send({"type": "http.response.body", "body": data[half:]})
            return
        raw.append((b"content-length", str(len(data)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": data})
