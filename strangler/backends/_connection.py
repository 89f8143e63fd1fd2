"""One keep-alive HTTP/1.1 connection to a backend, an asyncio Protocol (the pool and the
requests are :class:`~strangler.backends.HTTPBackend`'s, in :mod:`strangler.backends._http`).

A connection carries at most one exchange at a time: httptools parses the answer, its
callbacks wake whoever waits (a coroutine of ``send``, or a relay sink of the fast path,
woken once per read), one timer per connection enforces the read and total timeouts, and
reading pauses while more than ``_HIGH`` answer bytes wait for the proxy's client.
"""

from __future__ import annotations

import asyncio
import select
import ssl
from collections import deque
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, cast

import httptools

from strangler._errors import UpstreamError, UpstreamTimeout
from strangler.backends._base import RawHeaders, RelaySink
from strangler.backends._connect import tls_failed
from strangler.backends._reuse import idle_limit
from strangler.config import Timeouts

if TYPE_CHECKING:
    from strangler.backends._http import HTTPBackend

__all__ = ["Connection", "Stale"]

_HIGH = 256 * 1024  # buffered answer bytes above which reading pauses
_NO_ANSWER = "no answer within the timeout"


class Stale(Exception):
    """A connection was closed by the upstream before it answered anything.

    ``written``: whether any byte of the request had been handed to the connection.
    """

    def __init__(self, written: bool) -> None:
        super().__init__()
        self.written = written


class Connection(asyncio.Protocol):
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

    def __aiter__(self) -> Connection:
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
