"""Record the traffic each side served into the store, from the proxy's own counters.

Every ``interval`` seconds the recorder reads the proxy's Prometheus registry (in memory),
takes the difference with its previous reading, and adds it to this process's rows of
``traffic_minutes`` for the current minute, in a worker thread. Nothing happens per
request; a store that is down only delays the rows (the differences are kept, bounded,
and written with the next successful flush).

Each process records only its own answers, under its own ``instance`` (host, pid and a
random suffix), so the workers of ``strangler serve --workers N`` add up to the right
totals: every reader sums the instances. It must read this process's registry, never the
leader's sum of every worker (that would count the other workers' answers again). A
worker stopped gracefully flushes on its way out; one killed outright loses what it
counted since its last flush (at most ``interval`` seconds)::

    >>> recorder = TrafficRecorder(store, proxy.metrics.registry)     # doctest: +SKIP
    >>> proxy.on_startup.append(recorder.start)                       # doctest: +SKIP
    >>> proxy.on_shutdown.append(recorder.stop)                       # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry

from shadow.histogram import LatencyHistogram
from strangler._errors import StranglerError
from strangler._tasks import cancel
from strangler.metrics import LATENCY_BUCKETS
from strangler.rollback_monitor import read_counters
from strangler.rollout.rollback import RouteCounters, SideCounters
from strangler.store import Store
from strangler.store.aggregates import PendingMinutes
from strangler.store.traffic import write_traffic

__all__ = ["TrafficDelta", "TrafficRecorder", "latency_histogram"]

log = logging.getLogger("strangler.served")


def _instance() -> str:
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


_COARSE_MS = tuple(le * 1000 for le in LATENCY_BUCKETS)


def latency_histogram(buckets: tuple[tuple[float, float], ...]) -> LatencyHistogram:
    """Cumulative Prometheus buckets (seconds) -> the store's latency histogram (ms).

    >>> latency_histogram(((0.001, 2.0), (0.0025, 2.0), (float("inf"), 3.0))).count
    3
    """
    cumulative = dict(buckets)
    counts: list[int] = []
    below = 0.0
    for le in (*LATENCY_BUCKETS, float("inf")):
        upto = cumulative.get(le, below)
        counts.append(max(0, round(upto - below)))
        below = max(below, upto)
    return LatencyHistogram.spread(_COARSE_MS, counts)


@dataclass(frozen=True, slots=True)
class TrafficDelta:
    """What one side of one route did since the previous reading."""

    route: str
    side: str
    served: int
    requests: int
    errors: int
    latency: tuple[int, ...]

    @classmethod
    def of(cls, route: str, side: str, c: SideCounters) -> TrafficDelta:
        return cls(
            route,
            side,
            round(c.served),
            round(c.requests),
            round(c.errors),
            tuple(latency_histogram(c.buckets).to_list()),
        )

    def __bool__(self) -> bool:
        return bool(self.served or self.requests or self.errors)


def deltas(
    now: Mapping[str, RouteCounters], before: Mapping[str, RouteCounters]
) -> list[TrafficDelta]:
    """The non-empty per-side differences between two readings."""
    out: list[TrafficDelta] = []
    for route, counters in sorted(now.items()):
        diff = counters.minus(before.get(route, RouteCounters()))
        for side, c in (("legacy", diff.legacy), ("new", diff.new)):
            delta = TrafficDelta.of(route, side, c)
            if delta:
                out.append(delta)
    return out


class TrafficRecorder:
    """Adds the proxy's served traffic to the store, one batch per ``interval``."""

    def __init__(
        self,
        store: Store,
        registry: CollectorRegistry,
        *,
        interval: float = 10.0,
        instance: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.registry = registry
        self.interval = interval
        self.instance = (instance or _instance())[:64]
        self.clock = clock
        self._last: dict[str, RouteCounters] = {}
        # kept for a later flush while the store is down; beyond its cap the oldest are lost
        self._pending: PendingMinutes[tuple[str, datetime, str], TrafficDelta] = PendingMinutes()
        self._lock = threading.Lock()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="strangler-traffic")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel(task)
        await asyncio.to_thread(self.flush)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await asyncio.to_thread(self.flush)

    def flush(self) -> bool:
        """Read the counters and write what changed; False when the store refused it."""
        with self._lock:
            current = read_counters(self.registry)
            minute = self.clock().replace(second=0, microsecond=0)
            for d in deltas(current, self._last):
                key = (d.route, minute, d.side)
                self._pending[key] = _merge(self._pending.get(key), d)
            self._last = current
            self._pending.trim()
            if not self._pending:
                return True
            try:
                self._write(self._pending)
            except StranglerError as exc:
                log.warning("traffic not recorded yet (%s); will retry", exc)
                return False
            self._pending.clear()
            return True

    def _write(self, rows: Mapping[tuple[str, datetime, str], TrafficDelta]) -> None:
        write_traffic(
            self.store,
            self.instance,
            {key: (d.served, d.requests, d.errors, tuple(d.latency)) for key, d in rows.items()},
        )


def _merge(a: TrafficDelta | None, b: TrafficDelta) -> TrafficDelta:
    if a is None:
        return b
    return TrafficDelta(
        b.route,
        b.side,
        a.served + b.served,
        a.requests + b.requests,
        a.errors + b.errors,
        tuple(x + y for x, y in zip(a.latency, b.latency, strict=True)),
    )
