"""Work that waits for the clients: a little of it per turn of the event loop.

Shadow work (capturing an exchange and starting its call, judging an answer) is cheap one piece
at a time, but many pieces come at once: when several upstream answers arrive in one turn
of the loop, their clients are answered, and then each one's shadow work would run back to
back while the next client requests wait unread. :func:`later` queues a piece instead; the
loop runs queued pieces for at most :data:`BUDGET` per turn (one piece at least), then
looks for ready sockets again, so a client's request waits for that long at most. Over
:data:`MAX_QUEUED` waiting pieces (a loop that cannot keep up), a piece runs at once::

    later(runner.submit, exchange, "new")
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from time import perf_counter
from typing import Any

__all__ = ["BUDGET", "MAX_QUEUED", "later"]

log = logging.getLogger("strangler.shadow")
BUDGET = 50e-6  # seconds of queued work per turn of the loop, at least one piece
# Pieces waiting at most; over it, a piece runs at once (never lost). A waiting capture holds
# its request and answer copies (up to twice ``shadow.body_cap``), so the bound is about
# memory as much as time: a wave of 8 clients makes 24 pieces.
MAX_QUEUED = 64


class _Turns:
    """The queue of one event loop."""

    __slots__ = ("loop", "queue", "scheduled")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: deque[tuple[Callable[..., None], tuple[Any, ...]]] = deque()
        self.scheduled = False

    def add(self, fn: Callable[..., None], args: tuple[Any, ...]) -> None:
        if len(self.queue) >= MAX_QUEUED:  # the loop is saturated: no priority left to give
            fn(*args)
            return
        self.queue.append((fn, args))
        if not self.scheduled:
            self.scheduled = True
            self.loop.call_soon(self.run)

    def run(self) -> None:
        queue = self.queue
        until = perf_counter() + BUDGET
        while True:
            fn, args = queue.popleft()
            try:
                fn(*args)
            except Exception:  # one piece failing must not stop the others
                log.exception("shadow work failed: %r", fn)
            if not queue:
                self.scheduled = False
                return
            if perf_counter() >= until:
                self.loop.call_soon(self.run)
                return


_queues: dict[asyncio.AbstractEventLoop, _Turns] = {}


def later(fn: Callable[..., None], *args: Any) -> None:
    """Run ``fn(*args)`` on the running loop after the pieces queued before it, a budget of
    them per turn of the loop (exceptions are logged)."""
    loop = asyncio.get_running_loop()
    turns = _queues.get(loop)
    if turns is None:
        for old in [k for k in _queues if k.is_closed()]:
            del _queues[old]
        turns = _queues[loop] = _Turns(loop)
    turns.add(fn, args)
