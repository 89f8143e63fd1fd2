"""uvicorn's HTTP/1.1 protocol, with an answer's head and first body bytes in one write.

uvicorn writes the status line and headers as soon as the app sends
``http.response.start``, then each body message separately: two ``send`` system calls
(and two TCP segments, two wake-ups of the client) for an answer that fits in one. Through
:class:`ProxyHTTPProtocol` the head waits for the next write, at most until the end of the
current event-loop iteration, so a short answer leaves in one write and a streamed answer
whose body is late still shows its head at once. Measured in docs/architecture.md
("Proxy transport").
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import unquote

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from strangler.proxy._fast import FastPath

__all__ = ["ProxyHTTPProtocol"]


class _HeadHolder:
    """A transport that holds a response head until the next write (or the loop's next turn)."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + data)
        elif data.startswith(b"HTTP/1.1 ") and not data.startswith(b"HTTP/1.1 1"):
            # A final answer's head (never an interim "100 Continue": the client waits on it).
            self._held = data
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def write_now(self, data: bytes) -> None:
        """Write ``data`` at once (after a held head), even when it starts an answer."""
        held = self._held
        if held is not None:
            self._held = None
            data = held + data
        self._transport.write(data)

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class ProxyHTTPProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing short answers in one piece (``http=`` setting),
    with the proxy's fast path (:mod:`strangler.proxy._fast`) taking the requests it can
    before uvicorn builds a request cycle for them (pipelined ones: before it starts the
    ASGI app)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.relay: Any = None  # the request the fast path is relaying on this connection
        self._fast: FastPath | None = getattr(self.app, "fast_path", None)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        held: Any = _HeadHolder(transport, self.loop)
        super().connection_made(held)

    def on_headers_complete(self) -> None:
        """uvicorn's, except that a request the fast path takes gets no request cycle (the
        relay stands in for it): the common case, checked first, then uvicorn's own code."""
        fast = self._fast
        cycle = self.cycle
        parser = self.parser
        if (
            fast is None
            or self.expect_100_continue
            or self.limit_concurrency is not None
            or (cycle is not None and not cycle.response_complete)  # pipelined: uvicorn queues
            or parser.get_http_version() != "1.1"
            or parser.should_upgrade()
        ):
            super().on_headers_complete()
            return
        # As uvicorn completes the scope (httptools_impl.on_headers_complete).
        scope: Any = self.scope
        scope["method"] = parser.get_method().decode("ascii")
        parsed = httptools.parse_url(self.url)
        raw_path = parsed.path
        path = raw_path.decode("ascii")
        if "%" in path:
            path = unquote(path)
        root = self.root_path
        scope["path"] = root + path
        scope["raw_path"] = root.encode("ascii") + raw_path if root else raw_path
        scope["query_string"] = parsed.query or b""
        keep_alive = parser.should_keep_alive()
        if not fast.take(self, scope, keep_alive):
            self.cycle = cycle = self.make_cycle(scope, keep_alive)
            super()._start_asgi_task(cycle, self.app)

    def make_cycle(self, scope: Any, keep_alive: bool) -> RequestResponseCycle:
        """uvicorn's request cycle for ``scope``, as its ``on_headers_complete`` builds it."""
        return RequestResponseCycle(
            scope=scope,
            transport=self.transport,
            flow=self.flow,
            logger=self.logger,
            access_logger=self.access_logger,
            access_log=self.access_log,
            default_headers=self.server_state.default_headers,
            message_event=asyncio.Event(),
            expect_100_continue=False,
            keep_alive=keep_alive,
            on_response=self.on_response_complete,
        )

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        # A request uvicorn built a cycle for: pipelined behind another, or one the
        # override above left to uvicorn (HTTP/1.0 and Expect are refused here again; an
        # upgrade uvicorn does not act on, such as h2c, is judged by `take` as any request).
        fast = self._fast
        if (
            fast is not None
            and app is self.app
            and not cycle.waiting_for_100_continue
            and cycle.scope["http_version"] == "1.1"
            and fast.take(self, cycle.scope, cycle.keep_alive, cycle)
        ):
            return
        super()._start_asgi_task(cycle, app)

    def start_asgi(self, cycle: Any) -> None:
        """Run the ASGI app on ``cycle`` (a request the fast path handed back)."""
        super()._start_asgi_task(cycle, self.app)

    def resume_writing(self) -> None:
        super().resume_writing()
        relay = self.relay
        if relay is not None:
            relay.wake()
