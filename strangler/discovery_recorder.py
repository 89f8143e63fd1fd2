"""Record the endpoints the proxy discovers in its catch-all traffic into the store.

The proxy hands each request the catch-all answered to a bounded
:class:`~strangler.discovery.CatchAllSample` (one append on the hot path, no I/O). Every
``interval`` seconds the recorder takes the sample (on the event loop, where the appends
happen), folds it into this process's :class:`~strangler.discovery.LiveTemplates` and adds
the requests per method and template to this process's rows of ``discovered_minutes`` for
the current minute, in a worker thread. Only templates are written, never a raw path; a
store that is down only delays the rows (kept, bounded, for the next flush).

As with :class:`~strangler.traffic_recorder.TrafficRecorder`, each process records under
its own ``instance``, so the workers of ``strangler serve --workers N`` add up and every
reader sums the instances::

    >>> recorder = DiscoveryRecorder(store)                         # doctest: +SKIP
    >>> proxy.discovery = recorder.sample                           # doctest: +SKIP
    >>> proxy.on_startup.append(recorder.start)                     # doctest: +SKIP
    >>> proxy.on_shutdown.append(recorder.stop)                     # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from strangler._errors import StranglerError
from strangler._tasks import cancel
from strangler.discovery import CatchAllSample, LiveTemplates
from strangler.recorder import default_instance
from strangler.store import Store
from strangler.store.aggregates import PendingMinutes
from strangler.store.discovered import write_discovered

__all__ = ["DiscoveryRecorder"]

log = logging.getLogger("strangler.discovered")


class DiscoveryRecorder:
    """Folds the catch-all's requests into templates and adds them to the store, one batch
    per ``interval``. ``sample`` is what the proxy feeds (``proxy.discovery``)."""

    def __init__(
        self,
        store: Store,
        *,
        interval: float = 10.0,
        instance: str | None = None,
        sample: CatchAllSample | None = None,
        templates: LiveTemplates | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.interval = interval
        self.instance = (instance or default_instance())[:64]
        self.sample = sample if sample is not None else CatchAllSample()
        self.templates = templates if templates is not None else LiveTemplates()
        self.clock = clock
        self.sampled_out = 0  # requests counted but not kept (scaled in), this lifetime
        self._pending: PendingMinutes[tuple[str, str, datetime], int] = PendingMinutes()
        self._renames: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="strangler-discovery")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel(task)
        requests, dropped = self.sample.take()
        await asyncio.to_thread(self.flush, requests, dropped)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            requests, dropped = self.sample.take()  # on the loop: no append is lost
            await asyncio.to_thread(self.flush, requests, dropped)

    def flush(self, requests: Sequence[tuple[str, str]] = (), dropped: int = 0) -> bool:
        """Fold ``requests`` (and ``dropped`` more like them) and write what is pending;
        False when the store refused it (the counts stay for the next flush)."""
        with self._lock:
            self.sampled_out += dropped
            minute = self.clock().replace(second=0, microsecond=0)
            fold = self.templates.fold(requests, dropped)
            self._rename_pending(fold.renames)
            for (method, template), n in fold.counts.items():
                key = (method, template, minute)
                self._pending[key] = self._pending.get(key, 0) + n
            self._pending.trim()
            if not self._pending and not self._renames:
                return True
            try:
                write_discovered(self.store, self.instance, self._pending, self._renames)
            except StranglerError as exc:
                log.warning("discovered endpoints not recorded yet (%s); will retry", exc)
                return False
            self._pending.clear()
            self._renames.clear()
            return True

    def _rename_pending(self, renames: dict[tuple[str, str], str]) -> None:
        """Counts not written yet move at once; written ones when the store next answers
        (a rename of a rename goes straight to the newest template)."""
        if not renames:
            return
        for old, was in list(self._renames.items()):
            self._renames[old] = renames.get((old[0], was), was)
        self._renames.update(renames)
        for (method, template, minute), n in list(self._pending.items()):
            moved = renames.get((method, template))
            if moved is not None:
                del self._pending[(method, template, minute)]
                key = (method, moved, minute)
                self._pending[key] = self._pending.get(key, 0) + n
