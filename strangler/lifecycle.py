"""The components of a running proxy, started in one declared order, stopped in reverse.

:func:`strangler.app.create_app` declares the list once::

    store -> live state -> shadow recorder -> shadow pools -> shadow runner
          -> traffic recorder -> live discovery -> rollback monitor -> admin side
          (or, for workers: shared counters, traffic recorder, live discovery, leadership)

A component that fails to start stops the ones already started (in reverse) before the
error reaches the server; a component that fails to stop is logged and the others still
stop.

>>> order = []
>>> async def up(): order.append("up")
>>> async def down(): order.append("down")
>>> import asyncio
>>> life = Lifecycle([Component("a", up, down), Component("b", None, down)])
>>> asyncio.run(life.start()); asyncio.run(life.stop()); order
['up', 'down', 'down']
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

__all__ = ["Component", "Hook", "Lifecycle"]

log = logging.getLogger("strangler.lifecycle")

Hook = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Component:
    """One piece of a running proxy: how it starts and how it stops (either may be None)."""

    name: str
    start: Hook | None = None
    stop: Hook | None = None


class Lifecycle:
    """Start ``components`` in order; stop the started ones in reverse order."""

    def __init__(self, components: Sequence[Component]) -> None:
        self.components = tuple(components)
        self._started: list[Component] = []

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.components)

    async def start(self) -> None:
        for component in self.components:
            try:
                if component.start is not None:
                    await component.start()
            except BaseException:
                log.error("%s failed to start; stopping what started", component.name)
                await self.stop()
                raise
            self._started.append(component)

    async def stop(self) -> None:
        while self._started:
            component = self._started.pop()
            if component.stop is None:
                continue
            try:
                await component.stop()
            except Exception:
                log.exception("%s failed to stop", component.name)
