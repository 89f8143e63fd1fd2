"""A lean HTTP/1.1 client for the hot path: keep-alive connections on asyncio Protocols.

Measured against aiohttp's client (docs/architecture.md, "Proxy transport"): a proxied
request costs a fraction of the CPU, because a request here is one ``transport.write``
and one parse by httptools (the C parser uvicorn uses), with no timer and no per-request
objects beyond the response. What a proxy needs, and nothing more:

- one pool per backend, at most ``max_connections``; a connection goes back to the pool
  only after its response was read to the end, never when it broke or timed out;
- timeouts ``connect`` (opening a connection), ``read`` (between bytes) and ``total``
  (the whole exchange, waiting for a free connection included) from one timer per
  connection, armed when an exchange needs it earlier than it would fire and re-armed
  only when it fires;
- bodies stream both ways with flow control (reading pauses when the client is slower
  than the upstream; writing waits when the upstream is slower than the client);
- bytes pass unchanged: no cookie jar, no decompression, no redirects, no headers added
  but ``Host`` (the backend's own, or the client's with ``host: client``) and the body
  framing, repeated headers kept apart;
- ``HEAD``, ``1xx``, ``204`` and ``304`` answers have no body; an answer delimited by the
  end of the connection is read to that end;
- a pooled connection is checked before reuse (closed, past the idle time its last answer
  allowed, or readable while idle: the upstream's close is on its way) and dropped if so;
- a request on a reused connection that failed before any byte of its answer came back is
  sent again on a fresh connection, when resending cannot do anything twice
  (:mod:`strangler.backends._reuse`).

An ``https://`` backend uses one :class:`ssl.SSLContext`, made by :func:`strangler._tls.ssl_context`
from its ``tls`` settings at start (or at its first connection), and connects with the
settings' ``server_hostname`` when one is given.

Errors are strangler's: :class:`~strangler.UpstreamConnectError` (nothing sent; its
:class:`~strangler.UpstreamTLSError` when the TLS handshake failed, saying why),
:class:`~strangler.UpstreamTimeout`, else :class:`~strangler.UpstreamError`.
"""

from __future__ import annotations

import asyncio
import select
import ssl
from collections import deque
from collections.abc import AsyncIterator
from typing import cast
from urllib.parse import urlsplit

import httptools

from strangler._errors import (
    UpstreamError,
    UpstreamTimeout,
    UpstreamTLSError,
)
from strangler._tls import ssl_context
from strangler._types import Scope
from strangler.backends._base import RawHeaders, RelaySink, UpstreamRequest, UpstreamResponse
from strangler.backends._connect import connect_errors, tls_failed
from strangler.backends._reuse import idle_limit, may_resend
from strangler.backends._websocket import WebSocketUpstream, open_remote
from strangler.config import BackendConfig, Timeouts

__all__ = ["HTTPBackend"]

_HIGH = 256 * 1024  # buffered answer bytes above which reading pauses
_LOW = 64 * 1024
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_FRAMING = frozenset({b"host", b"content-length", b"transfer-encoding"})
_NO_ANSWER = "no answer within the timeout"


class _Stale(Exception):
    """A connection was closed by the upstream before it answered anything.

    ``written``: whether any byte of the request had been handed to the connection.
    """

    def __init__(self, written: bool) -> None:
        super().__init__()
        self.written = written


class _Connection(asyncio.Protocol):
    """One keep-alive connection; at most one exchange at a time."""

    def __init__(self, backend: HTTPBackend) -> None:
        self.backend = backend
        self.loop = backend.loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.reuse_until = 0.0  # loop time after which the idle connection is not reused
        self.poller: select.poll | None = None
        self.active = False
        self.route = ""
        self.head = False
        self.fresh_parser = False
        self.status = 0
        self.headers: RawHeaders = []
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.headers_done = False
        self.done = False
        self.keep_alive = True
        self.answered = False  # some byte of the answer arrived
        self.exchanges = 0
        self.error: UpstreamError | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.drain: asyncio.Future[None] | None = None
        self.write_paused = False
        self.reading_paused = False
        self.timer: asyncio.TimerHandle | None = None
        self.read_timeout = 0.0
        self.deadline = 0.0
        self.last_io = 0.0
        self.relay: RelaySink | None = None  # told of every change instead of a waiter
        self.feeding = False  # in the parser's callbacks for a relayed exchange

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        sock = transport.get_extra_info("socket")
        if sock is not None and hasattr(select, "poll"):
            self.poller = select.poll()
            self.poller.register(sock.fileno(), select.POLLIN)

    def usable(self, now: float) -> bool:
        """Whether this idle connection may carry a request now.

        An idle connection that the kernel says is readable has an end (or bytes nobody
        asked for) waiting that the event loop has not read yet: the upstream closed it.
        """
        transport = self.transport
        if self.closed or transport is None or transport.is_closing() or now >= self.reuse_until:
            return False
        return self.poller is None or not self.poller.poll(0)

    def data_received(self, data: bytes) -> None:
        if not self.active or self.done:  # bytes nobody asked for: not trustworthy
            self.keep_alive = False
            self.abort()
            return
        self.last_io = self.loop.time()
        self.answered = True
        # A relayed exchange is woken once per read, after the parser saw all of it: head,
        # body and end that came together leave together.
        relay = self.relay
        self.feeding = relay is not None
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.feeding = False
            self.fail(UpstreamError(self.backend.name, self.route, f"invalid answer: {exc}"))
            return
        self.feeding = False
        if relay is not None:
            relay.wake()

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.active and not self.done and self.error is None:
            if exc is None and self.headers_done and self._until_eof():
                self.done = True
                self.keep_alive = False
            elif isinstance(exc, ssl.SSLError):
                # TLS 1.3 servers refuse a client certificate after the client's side of
                # the handshake: the alert arrives here. On a first exchange with nothing
                # answered, the server's TLS layer never handed the request on.
                self.error = tls_failed(
                    self.backend.name,
                    self.route,
                    exc,
                    request_sent=self.answered or self.exchanges > 1,
                )
            elif self.backend.tls and self.exchanges == 1 and not self.answered:
                self.error = self.backend.refused_after_handshake(self.route)
            else:
                what = "in the middle of the answer" if self.answered else "before an answer"
                self.error = UpstreamError(
                    self.backend.name, self.route, f"the connection was closed {what}"
                )
        self._wake()
        drain, self.drain = self.drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        drain, self.drain = self.drain, None
        if drain is not None and not drain.done():
            drain.set_result(None)

    # -- httptools callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.headers_done:  # a second answer to one request
            raise ValueError("more than one answer to one request")
        self.headers = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            return  # an interim answer (100 Continue): the real one follows
        self.status = status
        self.headers_done = True
        if self.head:
            self.done = True  # no body, whatever Content-Length says
            self.keep_alive = self.parser.should_keep_alive()
            self.fresh_parser = True  # this parser now waits for a body that never comes
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self.head:
            return
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > _HIGH and not self.reading_paused and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if not self.headers_done or self.head:
            return
        self.done = True
        self.keep_alive = self.parser.should_keep_alive()
        self._wake()

    # -- the exchange ----------------------------------------------------------------------

    def _wake(self) -> None:
        relay = self.relay
        if relay is not None:
            if not self.feeding:
                relay.wake()
            return
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _wait(self) -> None:
        self.waiter = self.loop.create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None

    def _until_eof(self) -> bool:
        """Whether the answer's body ends with the connection (no length, not chunked)."""
        if self.status in (204, 304):
            return False
        names = {k for k, _ in self.headers}
        return b"content-length" not in names and b"transfer-encoding" not in names

    def start(self, route: str, head: bool, t: Timeouts, deadline: float) -> None:
        if self.fresh_parser:
            self.parser = httptools.HttpResponseParser(self)
            self.fresh_parser = False
        self.active = True
        self.exchanges += 1
        self.route = route
        self.head = head
        self.status = 0
        self.headers_done = self.done = self.answered = False
        self.keep_alive = True
        self.error = None
        self.read_timeout = t.read
        self.deadline = deadline
        self.last_io = now = self.loop.time()
        due = min(deadline, now + t.read)
        timer = self.timer
        # The timer an earlier exchange armed stays (it re-arms itself when it fires): one
        # timer per read timeout on a busy connection, not one per exchange.
        if timer is None or timer.when() > due:
            if timer is not None:
                timer.cancel()
            self.timer = self.loop.call_at(due, self._on_timer)

    def _on_timer(self) -> None:
        self.timer = None
        if not self.active or self.done:
            return  # idle, or answered whole: only the proxy's client is still reading it
        now = self.loop.time()
        if self.reading_paused:
            self.last_io = now  # our client is the slow one, not the upstream
        read_by = self.last_io + self.read_timeout
        if now >= self.deadline or now >= read_by:
            self.fail(UpstreamTimeout(self.backend.name, self.route, _NO_ANSWER))
        else:
            self.timer = self.loop.call_at(min(self.deadline, read_by), self._on_timer)

    def fail(self, error: UpstreamError) -> None:
        if self.error is None:
            self.error = error
        self.abort()
        self._wake()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()

    async def write_body(self, body: AsyncIterator[bytes], chunked: bool) -> None:
        """Stream ``body`` (an upstream that answers early stops the writing)."""
        transport = self.transport
        assert transport is not None
        try:
            async for chunk in body:
                if self.error is not None or self.closed:
                    return  # answered (or broken) already: the caller looks at what came
                if not chunk:
                    continue
                transport.write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if chunked else chunk)
                self.last_io = self.loop.time()
                if self.write_paused:
                    self.drain = self.loop.create_future()
                    await self.drain
        except Exception as exc:
            # The client's body failed (too large, client gone): the upstream must not
            # see something that looks complete.
            error = UpstreamError(self.backend.name, self.route, f"request body: {exc!r}")
            self.fail(error)
            raise error from exc
        if chunked and not self.closed:
            transport.write(b"0\r\n\r\n")

    async def answer(self) -> None:
        """Wait for the answer's status and headers."""
        while not self.headers_done:
            if self.error is not None:
                raise self.error
            await self._wait()

    # -- the body, as an async iterator ------------------------------------------------------

    def __aiter__(self) -> _Connection:
        return self

    def take_body(self) -> bytes:
        """The body bytes that arrived and were not taken yet (b"" when none)."""
        chunks = self.chunks
        if not chunks:
            return b""
        chunk = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
        chunks.clear()
        self.buffered = 0
        if self.reading_paused and self.transport is not None:
            self.reading_paused = False
            self.transport.resume_reading()
        return chunk

    async def __anext__(self) -> bytes:
        while True:
            if self.chunks:
                return self.take_body()
            if self.done:
                raise StopAsyncIteration
            if self.error is not None:
                raise self.error
            await self._wait()

    def at_eof(self) -> bool:
        return self.done and not self.chunks

    async def release(self) -> None:
        """End the exchange: back to the pool if the answer was read whole, else drop."""
        self.finish()

    def finish(self) -> None:
        """``release`` for a relayed exchange (nothing to wait for)."""
        self.active = False
        self.relay = None
        reusable = self.done and self.keep_alive and self.error is None and not self.closed
        if reusable:
            limit = idle_limit(self.headers, self.keep_alive)
            self.reuse_until = self.loop.time() + limit
            reusable = limit > 0
        if not reusable and self.timer is not None:
            self.timer.cancel()  # a dropped connection is not kept alive by its timer
            self.timer = None
        self.chunks.clear()
        self.buffered = 0
        if self.reading_paused and self.transport is not None and reusable:
            self.reading_paused = False
            self.transport.resume_reading()
        self.backend.put_back(self, reusable)


class HTTPBackend:
    """A remote HTTP backend on strangler's own HTTP/1.1 client (the default).

    >>> backend = HTTPBackend("legacy", BackendConfig(target="http://127.0.0.1:8001"))
    >>> backend
    HTTPBackend('legacy', 'http://127.0.0.1:8001')
    """

    def __init__(self, name: str, config: BackendConfig) -> None:
        self.name = name
        self.config = config
        self.base = config.target.rstrip("/")
        url = urlsplit(self.base)
        self._tls = url.scheme == "https"
        self._server_hostname = config.tls.server_hostname if config.tls else None
        self._host = url.hostname or "127.0.0.1"
        self._port = url.port or (443 if self._tls else 80)
        self._prefix = url.path.encode("latin-1")
        self._host_header = url.netloc.rpartition("@")[2].encode("latin-1")
        self._client_host = config.host == "client"  # send the client's Host instead
        self._ssl: ssl.SSLContext | None = None
        self._limit = config.max_connections
        self._idle: list[_Connection] = []
        self._open = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"HTTPBackend({self.name!r}, {self.base!r})"

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._tls:
            self.tls_context()

    @property
    def tls(self) -> bool:
        """Whether this is an ``https://`` backend."""
        return self._tls

    @property
    def server_hostname(self) -> str | None:
        """The name to send (SNI) and check instead of the URL's host (``tls.server_hostname``)."""
        return self._server_hostname

    def refused_after_handshake(self, route: str) -> UpstreamTLSError:
        """A new TLS connection closed with no answer: how servers refuse a client
        certificate without saying why (Python's do, sending no alert)."""
        key = f"{self.name}.tls"
        if self.config.tls is not None and self.config.tls.client_cert is not None:
            why = f"did it refuse our client certificate ({key}.client_cert)?"
        else:
            why = f"does it require a client certificate ({key}.client_cert and client_key)?"
        detail = f"the backend closed a new TLS connection without answering: {why}"
        # The request was written: whether the server read it is not known.
        return UpstreamTLSError(self.name, route, detail, request_sent=True)

    async def open_websocket(
        self, scope: Scope, headers: RawHeaders, *, timeouts: Timeouts, route: str
    ) -> WebSocketUpstream:
        """Open the WebSocket session of ``scope`` on this service (same TLS trust as its
        HTTP connections); raises :class:`~strangler.UpstreamError`."""
        return await open_remote(
            name=self.name,
            base=self.base,
            tls=self.tls_context,
            server_hostname=self._server_hostname,
            scope=scope,
            headers=headers,
            timeouts=timeouts,
            route=route,
        )

    def tls_context(self) -> ssl.SSLContext:
        """The backend's one TLS context, made on first use (``tls.verify: false`` warns);
        other connections to this backend (WebSockets) take it from here."""
        if self._ssl is None:
            self._ssl = ssl_context(self.config.tls, backend=self.name)
        return self._ssl

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.abort()
        self._open -= len(idle)

    # -- the pool --------------------------------------------------------------------------

    async def _acquire(
        self, t: Timeouts, route: str, deadline: float, fresh: bool = False
    ) -> tuple[_Connection, bool]:
        """A connection and whether it was reused; ``fresh``: a new one (idle ones may go)."""
        loop = self.loop
        idle = self._idle
        while True:
            while idle and not fresh:
                conn = idle.pop()
                if conn.usable(loop.time()):
                    return conn, True
                conn.abort()
                self._open -= 1
            if fresh and idle and self._open >= self._limit:
                idle.pop(0).abort()  # the longest idle makes room for the new one
                self._open -= 1
            if self._open < self._limit:
                break
            waiter = loop.create_future()
            self._waiters.append(waiter)
            try:
                async with asyncio.timeout_at(deadline):
                    await waiter
            except TimeoutError:
                raise UpstreamTimeout(
                    self.name, route, "no free connection within the timeout", request_sent=False
                ) from None
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
        self._open += 1
        try:
            return await self._connect(t, route, deadline), False
        except BaseException:
            self._open -= 1
            self._wake_one()
            raise

    async def _connect(self, t: Timeouts, route: str, deadline: float) -> _Connection:
        conn = _Connection(self)
        tls = self.tls_context() if self._tls else None
        with connect_errors(self.name, route, self.base):
            async with asyncio.timeout_at(min(deadline, self.loop.time() + t.connect)):
                await self.loop.create_connection(
                    lambda: conn,
                    self._host,
                    self._port,
                    ssl=tls,
                    server_hostname=self._server_hostname if tls else None,
                )
        return conn

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def put_back(self, conn: _Connection, reusable: bool) -> None:
        if reusable and not self._closed:
            self._idle.append(conn)
        else:
            conn.abort()
            self._open -= 1
        if self._waiters:
            self._wake_one()

    # -- one request -----------------------------------------------------------------------

    def relay(
        self, request: UpstreamRequest, sink: RelaySink, *, timeouts: Timeouts, route: str
    ) -> _Connection | None:
        """Send ``request`` (its body whole, as bytes) on an idle pooled connection and tell
        ``sink`` of every change of the exchange; None when no idle connection is ready
        (the caller uses ``send``, which may open one). The caller ends the exchange with
        the connection's ``finish``."""
        idle = self._idle
        if not idle:
            return None
        now = self.loop.time()
        conn = idle.pop()
        while not conn.usable(now):
            conn.abort()
            self._open -= 1
            if self._waiters:
                self._wake_one()
            if not idle:
                return None
            conn = idle.pop()
        body = request.body
        assert isinstance(body, bytes)
        head = self._head(request, body)
        conn.start(route, request.method == "HEAD", timeouts, now + timeouts.total)
        conn.relay = sink
        assert conn.transport is not None  # usable() checked it
        conn.transport.write(head + body if body else head)
        return conn

    def _head(self, request: UpstreamRequest, body: bytes | None) -> bytes:
        target = request.target.encode("latin-1")
        host = self._host_header
        if self._client_host:
            host = next((v for k, v in request.headers if k == b"host"), host)
        parts = [
            request.method.encode("latin-1"),
            b" ",
            self._prefix + target if self._prefix else target,
            b" HTTP/1.1\r\nhost: ",
            host,
            b"\r\n",
        ]
        length: bytes | None = None
        for name, value in request.headers:
            if name in _FRAMING:
                if name == b"content-length":
                    length = value
                continue
            parts += (name, b": ", value, b"\r\n")
        if body is not None:
            if body or length is not None or request.method in _BODY_METHODS:
                parts += (b"content-length: ", b"%d" % len(body), b"\r\n")
        elif length is not None:
            parts += (b"content-length: ", length, b"\r\n")
        else:
            parts.append(b"transfer-encoding: chunked\r\n")
        parts.append(b"\r\n")
        return b"".join(parts)

    async def send(
        self, request: UpstreamRequest, *, timeouts: Timeouts, route: str
    ) -> UpstreamResponse:
        body = request.body
        whole = body if isinstance(body, bytes) else None
        head = self._head(request, whole)
        deadline = self.loop.time() + timeouts.total
        resend = may_resend(request.method, request.headers, whole_body=whole is not None)
        fresh = False
        while True:
            conn, reused = await self._acquire(timeouts, route, deadline, fresh)
            try:
                await self._exchange(conn, request, head, whole, timeouts, route, deadline)
            except _Stale as stale:
                await conn.release()
                # A reused connection the upstream had closed: once on a fresh one, when
                # nothing was written or writing again does nothing twice.
                if reused and (resend or not stale.written):
                    fresh = stale.written
                    continue
                if conn.error is not None:
                    raise conn.error from None
                raise UpstreamError(
                    self.name, route, "connection lost", request_sent=stale.written
                ) from None
            except BaseException:
                await conn.release()
                raise
            return UpstreamResponse(conn.status, conn.headers, conn, conn.release, conn.at_eof)

    async def _exchange(
        self,
        conn: _Connection,
        request: UpstreamRequest,
        head: bytes,
        whole: bytes | None,
        t: Timeouts,
        route: str,
        deadline: float,
    ) -> None:
        conn.start(route, request.method == "HEAD", t, deadline)
        transport = conn.transport
        if conn.closed or transport is None or transport.is_closing():
            raise _Stale(written=False)
        if whole is not None:
            transport.write(head + whole if whole else head)
        else:
            transport.write(head)
            stream = request.body
            assert not isinstance(stream, bytes)
            chunked = head.endswith(b"transfer-encoding: chunked\r\n\r\n")
            await conn.write_body(stream, chunked)
        try:
            await conn.answer()
        except UpstreamError:
            if not conn.answered and not isinstance(conn.error, UpstreamTimeout):
                raise _Stale(written=True) from None
            raise
