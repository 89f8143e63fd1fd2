"""Notice a client that leaves during a streamed answer, and stop streaming to nobody.

uvicorn's ``send`` quietly ignores messages for a client that has gone. Without a watch, the
proxy would go on reading a slow or endless answer (an event stream, a long export) for
nobody, holding one of the backend's pooled connections until the backend ends it: the
next requests wait for a free connection, or the pool runs dry. A short answer, complete
in its first chunk, is never watched (no task on the hot path), and neither is one whose
``Content-Length`` the client already has whole (it may hang up before the backend's own
end arrives, and that is no departure).
"""

from __future__ import annotations

import asyncio

from strangler._types import Receive

__all__ = ["ClientWatch"]


class ClientWatch:
    """Cancels the task streaming an answer when its client disconnects.

    ::

        watch = ClientWatch(receive, length=content_length)
        try:
            async for chunk in answer:
                ...  # send it, not as the last message
                watch.sent(len(chunk))  # watch from now on, if the client is owed more
            watch.stop()  # before the last message: an answered client "disconnects" too
        except asyncio.CancelledError:
            if not watch.absorb():
                raise
    """

    __slots__ = ("_owed", "_receive", "_task", "_watcher", "gone")

    def __init__(self, receive: Receive, *, length: int | None = None) -> None:
        self._receive = receive
        self._owed = length  # bytes the client still waits for, when the length is known
        self._task: asyncio.Task[object] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self.gone = False

    def sent(self, size: int) -> None:
        """``size`` more bytes went to the client, and the answer goes on: watch from now on
        (once; the request body must have been read or abandoned by then)."""
        if self._owed is not None:
            self._owed -= size
            if self._owed <= 0:
                self.stop()  # the client has it all: hanging up now is no departure
                return
        if self._watcher is None:
            self._task = asyncio.current_task()
            self._watcher = asyncio.ensure_future(self._watch())

    def stop(self) -> None:
        """Stop watching (call before the answer's last message)."""
        watcher = self._watcher
        if watcher is not None and not watcher.done():
            watcher.cancel()

    def absorb(self) -> bool:
        """In an ``except CancelledError``: True when the cancellation was this watch's
        (the client left; the streaming task carries on to clean up), False otherwise."""
        if not self.gone or self._task is None:
            return False
        self._task.uncancel()
        return True

    async def _watch(self) -> None:
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                break
            if not message.get("more_body", False):
                # Not a server's receive (which waits for the disconnect once the body is
                # read) but a wrapper answering at once: nothing to watch.
                return
        self.gone = True
        if self._task is not None:
            self._task.cancel()
