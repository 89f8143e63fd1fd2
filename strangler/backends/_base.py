"""The values a backend takes and returns, and the protocol every backend implements."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from strangler._errors import UpstreamError
from strangler._types import Scope
from strangler.backends._websocket import WebSocketUpstream
from strangler.config import Timeouts

__all__ = [
    "Backend",
    "RawHeaders",
    "RelayExchange",
    "RelaySink",
    "UpstreamRequest",
    "UpstreamResponse",
]

RawHeaders = list[tuple[bytes, bytes]]


@dataclass(slots=True)
class UpstreamRequest:
    """One request for a backend.

    ``target`` is the raw path and query exactly as the client sent them
    (``/orgs/a%20b?page=2``); ``headers`` are raw ``(name, value)`` pairs, names
    lower-case, order and repeats kept. ``body`` is the whole body, or an async iterator
    of chunks when it is streamed. An HTTP backend replaces ``host`` with its own.

    >>> UpstreamRequest("GET", "/orgs/acme", [(b"accept", b"application/json")])
    UpstreamRequest(method='GET', target='/orgs/acme', ...)
    """

    method: str
    target: str
    headers: RawHeaders = field(default_factory=list)
    body: bytes | AsyncIterator[bytes] = b""
    scheme: str = "http"
    client: tuple[str, int] | None = None  # the client's address, for in-process apps

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.partition("?")[2]


async def _no_chunks() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator


async def _nothing() -> None:
    return None


class UpstreamResponse:
    """A backend's answer: status and raw headers now, the body as a stream.

    Read it once, either chunk by chunk or whole; always close it (``read`` does)::

        resp = await backend.send(req, timeouts=t, route="GET /a")
        async for chunk in resp.stream():
            ...
        await resp.aclose()

    Errors while streaming are :class:`~strangler.UpstreamError` values.
    """

    __slots__ = ("_chunks", "_close", "_closed", "_eof", "headers", "status")

    def __init__(
        self,
        status: int,
        headers: RawHeaders,
        chunks: AsyncIterator[bytes] | None = None,
        close: Callable[[], Awaitable[None]] | None = None,
        eof: Callable[[], bool] | None = None,
    ) -> None:
        self.status = status
        self.headers = headers
        self._chunks = chunks if chunks is not None else _no_chunks()
        self._close = close or _nothing
        self._closed = False
        self._eof = eof

    def at_eof(self) -> bool:
        """True when the body is known to be complete (no more chunks will come).

        False means "not known": keep iterating. Lets the proxy mark the last chunk as last.
        """
        return self._eof() if self._eof is not None else False

    def header(self, name: bytes) -> bytes | None:
        """The first value of header ``name`` (lower-case bytes), or None."""
        # A plain loop: the proxy asks once per request, and a generator costs 3x as much.
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def content_length(self) -> int | None:
        """The body's announced length (``Content-Length``), or None when not given or invalid."""
        value = self.header(b"content-length")
        if value is None or not value.strip().isdigit():
            return None
        return int(value)

    def stream(self) -> AsyncIterator[bytes]:
        """The body's chunks as they arrive (bytes unchanged, compressed or not)."""
        return self._chunks

    async def read(self) -> bytes:
        """The whole body; closes the response."""
        try:
            return b"".join([chunk async for chunk in self._chunks])
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Release the connection (or stop the in-process app); safe to call twice."""
        if not self._closed:
            self._closed = True
            await self._close()


class RelaySink(Protocol):
    """What a relayed exchange tells of its progress (the proxy's fast path)."""

    def wake(self) -> None:
        """Something changed: the head, body bytes, the end, or an error arrived."""
        ...


class RelayExchange(Protocol):
    """One exchange on a pooled connection, read by its :class:`RelaySink` as it goes.

    ``error`` set: the exchange failed (``answered``: some byte of the answer had come).
    ``headers_done``: ``status`` and ``headers`` are there; ``take_body()`` returns the
    body bytes not taken yet; ``done`` with no bytes left: the answer is complete.
    ``finish()`` ends it (the connection goes back to the pool only when it may).
    """

    status: int
    headers: RawHeaders
    headers_done: bool
    done: bool
    answered: bool
    error: UpstreamError | None

    def take_body(self) -> bytes: ...

    def at_eof(self) -> bool: ...

    def finish(self) -> None: ...

    def abort(self) -> None: ...


@runtime_checkable
class Backend(Protocol):
    """Where requests go: a remote HTTP service or an in-process ASGI/WSGI app.

    ``name`` is the side it serves (``legacy``, ``new`` or ``new_sandbox``). ``send``
    raises :class:`~strangler.UpstreamConnectError`
    (nothing was sent) or :class:`~strangler.UpstreamTimeout`, or another
    :class:`~strangler.UpstreamError`; ``route`` is only used to name it in errors.
    """

    name: str

    async def start(self) -> None:
        """Open what the backend needs before its first request (pools, an app's lifespan)."""
        ...

    async def send(
        self, request: UpstreamRequest, *, timeouts: Timeouts, route: str
    ) -> UpstreamResponse: ...

    async def open_websocket(
        self, scope: Scope, headers: RawHeaders, *, timeouts: Timeouts, route: str
    ) -> WebSocketUpstream:
        """The backend's side of the WebSocket session of ``scope`` (sent ``headers``),
        once it accepted; raises :class:`~strangler.UpstreamError`, a refusal as
        ``HandshakeRefused`` with the backend's status, headers and body."""
        ...

    def relay(
        self, request: UpstreamRequest, sink: RelaySink, *, timeouts: Timeouts, route: str
    ) -> RelayExchange | None:
        """Start ``request`` (whole body) on a connection that is ready now, its progress
        told to ``sink``; None when there is none (``send`` is the way then). In-process
        apps have none."""
        ...

    async def aclose(self) -> None: ...
