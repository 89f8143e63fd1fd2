"""In-process backends: an ASGI app called directly, or a WSGI app through a2wsgi.

No socket, no serialisation: the request becomes an ASGI scope, its body is streamed
through ``receive``, and the app's ``send`` messages become an :class:`UpstreamResponse`
whose chunks stream with back-pressure. The app's lifespan runs when the proxy starts.

An exception in the app before it answers becomes a plain ``500`` (what a server would
send), logged once; after it started answering, the stream ends with an
:class:`~strangler.UpstreamError`. Timeouts: ``read`` bounds the wait for the answer and
for each chunk, ``total`` the whole exchange (``connect`` has no meaning here).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote

from strangler._errors import UpstreamError, UpstreamTimeout
from strangler._types import ASGIApp, Message, Scope
from strangler.backends._base import RawHeaders, RelaySink, UpstreamRequest, UpstreamResponse
from strangler.backends._websocket import (
    InProcessWebSocket,
    WebSocketUnsupported,
    WebSocketUpstream,
)
from strangler.config import Timeouts

__all__ = ["ASGIBackend", "is_asgi"]

log = logging.getLogger("strangler.backends")

_ASGI = {"version": "3.0", "spec_version": "2.3"}
_END = object()
_QUEUE_CHUNKS = 16


def is_asgi(app: Any) -> bool:
    """Guess the interface: a coroutine function or an ``async def __call__`` is ASGI."""
    if inspect.iscoroutinefunction(app):
        return True
    call = getattr(app, "__call__", None)  # noqa: B004 - a class's instances, not callable()
    return call is not None and inspect.iscoroutinefunction(call)


class ASGIBackend:
    """An ASGI application served in-process (a WSGI app wrapped by ``a2wsgi`` is one too)."""

    def __init__(self, name: str, app: ASGIApp, *, description: str = "", wsgi: Any = None):
        self.name = name
        self.app = app
        self.description = description or repr(app)
        self._wsgi = wsgi  # the a2wsgi middleware, whose thread pool we shut down
        self._state: dict[str, Any] = {}
        self._lifespan: asyncio.Task[None] | None = None
        self._shutdown: asyncio.Event | None = None
        self._shutdown_done: asyncio.Future[None] | None = None

    def __repr__(self) -> str:
        return f"ASGIBackend({self.name!r}, {self.description!r})"

    @property
    def is_wsgi(self) -> bool:
        """True for a WSGI app behind a2wsgi: it cannot serve WebSockets."""
        return self._wsgi is not None

    async def open_websocket(
        self, scope: Scope, headers: RawHeaders, *, timeouts: Timeouts, route: str
    ) -> WebSocketUpstream:
        """Run the app on the session's scope (with the forwarded ``headers`` and its
        lifespan ``state``) until it accepts; raises :class:`~strangler.UpstreamError`
        (a WSGI app cannot serve WebSockets at all)."""
        if self.is_wsgi:
            raise WebSocketUnsupported(
                self.name,
                route,
                f"{self.description} is a WSGI app, and WSGI cannot serve WebSockets: "
                "serve this route from an ASGI app or a URL",
            )
        app_scope = {**scope, "headers": headers, "state": dict(self._state)}
        return await InProcessWebSocket(self.app, app_scope, name=self.name, route=route).open()

    async def start(self) -> None:
        """Run the app's lifespan startup (apps without lifespan support are fine)."""
        if self._lifespan is not None:
            return
        loop = asyncio.get_running_loop()
        started: asyncio.Future[None] = loop.create_future()
        self._shutdown = asyncio.Event()
        self._shutdown_done = loop.create_future()
        shutdown, shutdown_done = self._shutdown, self._shutdown_done
        sent_startup = False

        async def receive() -> Message:
            nonlocal sent_startup
            if not sent_startup:
                sent_startup = True
                return {"type": "lifespan.startup"}
            await shutdown.wait()
            return {"type": "lifespan.shutdown"}

        async def send(message: Message) -> None:
            kind = message["type"]
            if kind == "lifespan.startup.complete" and not started.done():
                started.set_result(None)
            elif kind == "lifespan.startup.failed" and not started.done():
                started.set_exception(
                    UpstreamError(self.name, "*", f"app startup failed: {message.get('message')}")
                )
            elif kind.startswith("lifespan.shutdown") and not shutdown_done.done():
                shutdown_done.set_result(None)

        async def run() -> None:
            scope = {"type": "lifespan", "asgi": _ASGI, "state": self._state}
            try:
                await self.app(scope, receive, send)
            except Exception:
                pass  # an app without lifespan support raises here: that is allowed
            finally:
                if not started.done():
                    started.set_result(None)
                if not shutdown_done.done():
                    shutdown_done.set_result(None)

        self._lifespan = asyncio.create_task(run())
        await started

    def relay(
        self, request: UpstreamRequest, sink: RelaySink, *, timeouts: Timeouts, route: str
    ) -> None:
        """No relay: an in-process app is called through ``send``."""
        return None

    async def aclose(self) -> None:
        if self._lifespan is not None and self._shutdown is not None:
            self._shutdown.set()
            assert self._shutdown_done is not None
            try:
                await asyncio.wait_for(asyncio.shield(self._shutdown_done), 10)
            except TimeoutError:
                self._lifespan.cancel()
            self._lifespan = None
        if self._wsgi is not None:
            self._wsgi.executor.shutdown(wait=False)

    async def send(
        self, request: UpstreamRequest, *, timeouts: Timeouts, route: str
    ) -> UpstreamResponse:
        call = _AppCall(self, request, timeouts, route)
        task = asyncio.create_task(call.run())
        try:
            status, headers = await asyncio.wait_for(
                asyncio.shield(call.started), min(timeouts.read, timeouts.total)
            )
        except TimeoutError:
            task.cancel()
            raise UpstreamTimeout(self.name, route, "no answer within the timeout") from None

        async def close() -> None:
            call.finished.set()
            if not task.done():
                task.cancel()
                await asyncio.wait({task})

        return UpstreamResponse(status, headers, call.chunks(), close)


class _AppCall:
    """One request to an in-process app: its ``receive``/``send`` and the answer's chunks,
    bounded by the timeouts (a queue of chunks gives back-pressure)."""

    def __init__(
        self, backend: ASGIBackend, request: UpstreamRequest, timeouts: Timeouts, route: str
    ) -> None:
        loop = asyncio.get_running_loop()
        self.loop, self.backend, self.request = loop, backend, request
        self.timeouts, self.route = timeouts, route
        self.deadline = loop.time() + timeouts.total
        self.started: asyncio.Future[tuple[int, RawHeaders]] = loop.create_future()
        self.queue: asyncio.Queue[Any] = asyncio.Queue(_QUEUE_CHUNKS)
        self.finished = asyncio.Event()
        body = request.body
        self.body_iter = body.__aiter__() if not isinstance(body, bytes) else None
        self.body_sent = False

    async def receive(self) -> Message:
        if self.body_iter is not None and not self.body_sent:
            try:
                chunk = await self.body_iter.__anext__()
            except StopAsyncIteration:
                self.body_sent = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return {"type": "http.request", "body": chunk, "more_body": True}
        if not self.body_sent:
            self.body_sent = True
            body = self.request.body
            return {"type": "http.request", "body": body, "more_body": False}
        await self.finished.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            headers = [(bytes(k).lower(), bytes(v)) for k, v in message.get("headers", ())]
            self.started.set_result((int(message["status"]), headers))
        elif kind == "http.response.body":
            chunk = message.get("body", b"")
            if chunk:
                await self.queue.put(bytes(chunk))
            if not message.get("more_body", False):
                await self.queue.put(_END)

    async def run(self) -> None:
        backend, route = self.backend, self.route
        try:
            await backend.app(_scope(self.request, backend._state), self.receive, self.send)
        except Exception as exc:
            if not self.started.done():
                log.exception("in-process backend %r failed on %s", backend.name, route)
                self.started.set_result((500, [(b"content-type", b"text/plain; charset=utf-8")]))
                await self.queue.put(b"Internal Server Error")
                await self.queue.put(_END)
            else:
                await self.queue.put(exc)
        else:
            if not self.started.done():
                self.started.set_exception(
                    UpstreamError(backend.name, route, "the app returned without answering")
                )
            await self.queue.put(_END)

    async def chunks(self) -> AsyncIterator[bytes]:
        name, route = self.backend.name, self.route
        while True:
            left = min(self.timeouts.read, self.deadline - self.loop.time())
            try:
                item = await asyncio.wait_for(self.queue.get(), max(left, 0.0))
            except TimeoutError:
                raise UpstreamTimeout(name, route, "body not done in time") from None
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise UpstreamError(name, route, f"app failed mid-body: {item!r}")
            yield item


def _scope(request: UpstreamRequest, state: dict[str, Any]) -> dict[str, Any]:
    path, _, query = request.target.partition("?")
    host = next((v for k, v in request.headers if k == b"host"), b"")
    name, _, port = host.decode("latin-1").partition(":")
    default_port = 443 if request.scheme == "https" else 80
    headers = request.headers
    body = request.body
    if isinstance(body, bytes) and body and not any(k == b"content-length" for k, _ in headers):
        # As a server would have it from the wire (WSGI apps read CONTENT_LENGTH bytes).
        headers = [*headers, (b"content-length", str(len(body)).encode())]
    return {
        "type": "http",
        "asgi": _ASGI,
        "http_version": "1.1",
        "method": request.method,
        "scheme": request.scheme,
        "path": unquote(path),
        "raw_path": path.encode("latin-1"),
        "query_string": query.encode("latin-1"),
        "root_path": "",
        "headers": headers,
        "client": request.client,
        "server": (name or "localhost", int(port) if port.isdigit() else default_port),
        "state": dict(state),
    }
