"""The live-state watcher: every proxy process serves a flip within a second or two.

On startup :class:`LiveState` reads the routes' live states from the store and swaps a
fresh :class:`~strangler.routing.RouteTable` into the proxy. Then it polls the store's
state version (a single-row read, in a worker thread so the event loop never waits on the
database) every ``proxy.poll_interval`` seconds, and rebuilds the table when it changed.
On PostgreSQL it also LISTENs on the ``strangler_flips`` channel, which
:meth:`Store.flip <strangler.store.Store.flip>` notifies, so a flip usually lands well
before the next poll; polling stays as the safety net.

When the store cannot be reached the proxy keeps serving the last table, one warning is
logged (not one per poll), and the watcher keeps retrying::

    >>> live = LiveState(store, config, proxy)          # doctest: +SKIP
    >>> proxy.on_startup.append(live.start)             # doctest: +SKIP
    >>> proxy.on_shutdown.append(live.stop)             # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from strangler._errors import StoreError
from strangler._tasks import cancel
from strangler.config import Config
from strangler.control import format_percent
from strangler.routing import Route, RouteTable
from strangler.store import Store
from strangler.store.notices import NOTIFY_CHANNEL, flip_notices, listens

__all__ = ["LiveState", "TableTarget"]

log = logging.getLogger("strangler.live")

LISTEN_RETRY = 5.0
"""Seconds between attempts to re-establish a lost LISTEN connection."""


class TableTarget(Protocol):
    """What the watcher drives: anything that can swap in a new route table (the proxy)."""

    def swap_table(self, table: RouteTable) -> None: ...


def _mode(route: Route | None) -> str:
    if route is None:
        return "(absent)"
    return f"canary {format_percent(route.percent)}" if route.mode == "canary" else route.mode


class LiveState:
    """Keeps a proxy's route table in step with the store's live route states."""

    def __init__(
        self,
        store: Store,
        config: Config,
        proxy: TableTarget,
        poll_interval: float | None = None,
        *,
        listen: bool = True,
    ) -> None:
        self.store = store
        self.config = config
        self.proxy = proxy
        self.poll_interval = poll_interval or config.proxy.poll_interval
        self.listen = listen and listens(store)
        self.version: int | None = None
        self.table: RouteTable | None = None
        self.store_down = False
        self._wake: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Load the live states (a StoreError here fails the startup), then watch."""
        self._wake = asyncio.Event()
        await self.refresh()
        self._tasks.append(asyncio.create_task(self._poll(), name="strangler-live-poll"))
        if self.listen:
            self._tasks.append(asyncio.create_task(self._listen(), name="strangler-live-listen"))

    async def stop(self) -> None:
        """Stop watching (the proxy keeps its current table)."""
        tasks, self._tasks = self._tasks, []
        await cancel(*tasks)
        if tasks:
            log.info("stopped following the store (route table v%s)", self.version)

    async def refresh(self) -> bool:
        """Rebuild and swap the table if the store's version moved; True if it did."""
        # The version is read before the states: a flip landing in between is then seen
        # again by the next poll, never missed.
        version = await asyncio.to_thread(self.store.version)
        if version == self.version:
            return False
        states = await asyncio.to_thread(self.store.live_states)
        table = RouteTable.build(self.config, states, version)
        self.proxy.swap_table(table)
        self._log_changes(self.table, table)
        self.table, self.version = table, version
        return True

    def _log_changes(self, old: RouteTable | None, new: RouteTable) -> None:
        if old is None:
            flipped = sum(1 for r in new.routes if r.live)
            log.info(
                "route table v%d loaded (%d routes, %d flipped)",
                new.version,
                len(new.routes),
                flipped,
            )
            return
        for route in new.routes:
            before = old.get(route.key)
            if _mode(before) != _mode(route):
                log.info("v%d: %s %s -> %s", new.version, route.key, _mode(before), _mode(route))

    async def _poll(self) -> None:
        assert self._wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            self._wake.clear()
            try:
                await self.refresh()
            except Exception as exc:  # the watcher must outlive any store trouble
                if not self.store_down:
                    log.warning(
                        "store %s unreachable (%s); serving route table v%s until it is back",
                        self.store.safe_url,
                        exc,
                        self.version,
                    )
                    self.store_down = True
                continue
            if self.store_down:
                log.warning(
                    "store %s reachable again (route table v%s)", self.store.safe_url, self.version
                )
                self.store_down = False

    async def _listen(self) -> None:
        assert self._wake is not None
        warned = False
        while True:
            try:
                async for _ in flip_notices(self.store):
                    if warned:
                        log.warning("LISTEN %s re-established", NOTIFY_CHANNEL)
                        warned = False
                    self._wake.set()  # on (re)connecting too: a flip may have been missed
            except StoreError as exc:
                if not warned:
                    log.warning(
                        "LISTEN %s failed (%s); relying on polling every %g s",
                        NOTIFY_CHANNEL,
                        exc.detail,
                        self.poll_interval,
                    )
                    warned = True
            await asyncio.sleep(LISTEN_RETRY)
