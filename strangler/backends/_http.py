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
import ssl
from collections import deque
from urllib.parse import urlsplit

from strangler._errors import (
    UpstreamError,
    UpstreamTimeout,
    UpstreamTLSError,
)
from strangler._tls import ssl_context
from strangler._types import Scope
from strangler.backends._base import RawHeaders, RelaySink, UpstreamRequest, UpstreamResponse
from strangler.backends._connect import connect_errors
from strangler.backends._connection import Connection, Stale
from strangler.backends._reuse import may_resend
from strangler.backends._websocket import WebSocketUpstream, open_remote
from strangler.config import BackendConfig, Timeouts

__all__ = ["HTTPBackend"]

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_FRAMING = frozenset({b"host", b"content-length", b"transfer-encoding"})


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
        self._idle: list[Connection] = []
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
    ) -> tuple[Connection, bool]:
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

    async def _connect(self, t: Timeouts, route: str, deadline: float) -> Connection:
        conn = Connection(self)
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

    def put_back(self, conn: Connection, reusable: bool) -> None:
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
    ) -> Connection | None:
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
            except Stale as stale:
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
        conn: Connection,
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
            raise Stale(written=False)
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
                raise Stale(written=True) from None
            raise
