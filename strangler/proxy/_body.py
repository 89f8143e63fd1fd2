"""The client's request body: streamed upstream, counted against the cap, copied if needed.

A body that arrives in one ASGI message (most requests) is passed on as bytes; a longer
one is streamed as an async iterator, never buffered whole unless a replay may need it
(a safe-method canary request) . When the route is shadowed, the first ``capture`` bytes
are copied on the way (over that: no copy, ``captured`` is None).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from strangler._types import Receive

__all__ = ["BodyTooLarge", "ClientDisconnected", "RequestBody", "keep_copy"]


def keep_copy(copy: bytearray | None, chunk: bytes, cap: int) -> bytearray | None:
    """``copy`` (a body copied for the shadow comparison) with ``chunk`` added, or None
    once it would grow over ``cap`` bytes: over its cap a body is not copied at all."""
    if copy is None or len(copy) + len(chunk) > cap:
        return None
    copy += chunk
    return copy


class BodyTooLarge(Exception):
    """The request body is over ``proxy.max_body`` (answered with 413)."""


class ClientDisconnected(Exception):
    """The client went away while its body was being read."""


class RequestBody:
    """One request's body, read from ASGI ``receive`` at most once."""

    __slots__ = (
        "_first",
        "_receive",
        "capture",
        "complete",
        "copy",
        "disconnected",
        "exceeded",
        "limit",
        "size",
        "started",
    )

    def __init__(self, receive: Receive, limit: int, capture: int | None = None) -> None:
        self._receive = receive
        self.limit = limit
        self.capture = capture
        self.copy: bytearray | None = bytearray() if capture is not None else None
        self.complete: bytes | None = None  # the whole body, once known
        self.size = 0
        self.started = False  # a streamed body's iterator was pulled (no replay after that)
        self.exceeded = False
        self.disconnected = False
        self._first = b""

    async def prepare(self) -> None:
        """Read the first message; a body that fits in it becomes ``complete``.

        Raises :class:`BodyTooLarge` or :class:`ClientDisconnected`.
        """
        message = await self._receive()
        if message["type"] == "http.disconnect":
            self.disconnected = True
            raise ClientDisconnected
        chunk = message.get("body", b"")
        self._count(chunk)
        if message.get("more_body", False):
            self._first = chunk
        else:
            self.complete = chunk

    async def read_all(self) -> bytes:
        """Buffer the whole body (for a request that may be replayed)."""
        if self.complete is None:
            self.complete = b"".join([chunk async for chunk in self._stream()])
        return self.complete

    def for_upstream(self) -> bytes | AsyncIterator[bytes]:
        """The body to send: bytes when known, else a stream (which can be sent once)."""
        return self.complete if self.complete is not None else self._stream()

    @property
    def replayable(self) -> bool:
        """Whether the body can be sent again (nothing of a streamed body was consumed)."""
        return self.complete is not None or not self.started

    @property
    def captured(self) -> bytes | None:
        """The copied body for shadowing, or None when over the capture cap or not copied."""
        if self.complete is not None and self.copy is not None:
            return self.complete
        return bytes(self.copy) if self.copy is not None else None

    def _count(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            self.exceeded = True
            raise BodyTooLarge
        if self.copy is not None and self.capture is not None:
            self.copy = keep_copy(self.copy, chunk, self.capture)

    async def _stream(self) -> AsyncIterator[bytes]:
        self.started = True
        if self._first:
            yield self._first
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self.disconnected = True
                raise ClientDisconnected
            chunk = message.get("body", b"")
            self._count(chunk)
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return
