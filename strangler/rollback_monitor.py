"""The rollback monitor: the proxy process watches its own counters and rolls back by itself.

Every ``rollback.interval`` seconds it reads the proxy's Prometheus registry (in memory,
a few hundred samples), adds the snapshot to a :class:`SlidingWindow`, and judges every
route in ``canary`` or ``new``. A route that trips is flipped to ``rollback.to_mode`` with
``automatic=True`` (the store holds it there until a person flips it), the reasons go into
the audit log, and ``strangler_rollbacks_total`` counts it. Of several workers
(``strangler serve --workers N``) only the leading one runs a monitor, on the sum of every
worker's counters (:mod:`strangler.workers`)::

    >>> monitor = RollbackMonitor(config, store, proxy)        # doctest: +SKIP
    >>> proxy.on_startup.append(monitor.start)                 # doctest: +SKIP
    >>> proxy.on_shutdown.append(monitor.stop)                 # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.registry import Collector

from strangler._errors import StranglerError
from strangler._tasks import cancel
from strangler.config import Config
from strangler.rollout.rollback import RouteCounters, SideCounters, SlidingWindow, judge
from strangler.routing import RouteTable
from strangler.store import Flip, Store

__all__ = ["ROLLBACK_ACTOR", "RollbackMonitor", "read_counters"]

log = logging.getLogger("strangler.rollback")

ROLLBACK_ACTOR = f"strangler-rollback@{socket.gethostname()}"
"""The actor the audit log names for automatic rollbacks."""

_MISMATCH_OUTCOMES = frozenset({"mismatch"})
_COMPARED_OUTCOMES = frozenset({"match", "noise", "mismatch"})
_SIDES = ("new", "legacy")


class _Metrics(Protocol):
    registry: CollectorRegistry


class ProxyLike(Protocol):
    """What the monitor watches: the proxy's route table and metrics."""

    @property
    def table(self) -> RouteTable: ...

    @property
    def metrics(self) -> _Metrics: ...


class _Side:
    __slots__ = ("buckets", "errors", "requests", "served")

    def __init__(self) -> None:
        self.requests = 0.0
        self.errors = 0.0
        self.served = 0.0
        self.buckets: dict[float, float] = {}

    def freeze(self) -> SideCounters:
        return SideCounters(
            self.requests, self.errors, tuple(sorted(self.buckets.items())), self.served
        )


def read_counters(registry: Collector) -> dict[str, RouteCounters]:
    """Per route and side: answers served, attempts, errors, latency buckets; and verdicts.

    ``registry`` is any prometheus_client collector: the proxy's registry, or the sum of
    every worker's (:class:`strangler.workers.WorkerMetrics`).

    A side's errors are its 5xx answers plus every attempt it could not answer (upstream
    errors on that backend, and new's 5xx replayed on legacy: the fallbacks).
    """
    sides: dict[tuple[str, str], _Side] = defaultdict(_Side)
    compared: dict[str, float] = defaultdict(float)
    mismatched: dict[str, float] = defaultdict(float)
    for family in registry.collect():
        for sample in family.samples:
            labels, value = sample.labels, float(sample.value)
            route = labels.get("route")
            if route is None:
                continue
            name = sample.name
            if name == "strangler_requests_total" and labels.get("side") in _SIDES:
                side = sides[(route, labels["side"])]
                side.served += value
                side.requests += value
                if labels.get("status") == "5xx":
                    side.errors += value
            elif name == "strangler_fallbacks_total" and labels.get("reason") == "status_5xx":
                side = sides[(route, "new")]
                side.requests += value
                side.errors += value
            elif name == "strangler_upstream_errors_total" and labels.get("backend") in _SIDES:
                side = sides[(route, labels["backend"])]
                side.requests += value
                side.errors += value
            elif name == "strangler_request_seconds_bucket" and labels.get("side") in _SIDES:
                le = math.inf if labels["le"] == "+Inf" else float(labels["le"])
                buckets = sides[(route, labels["side"])].buckets
                buckets[le] = buckets.get(le, 0.0) + value
            elif name.startswith("strangler_shadow_") and name.endswith("_total"):
                outcome = labels.get("verdict") or labels.get("outcome")
                if outcome in _COMPARED_OUTCOMES:
                    compared[route] += value
                    if outcome in _MISMATCH_OUTCOMES:
                        mismatched[route] += value
    routes = {r for r, _ in sides} | set(compared)
    return {
        r: RouteCounters(
            new=sides[(r, "new")].freeze() if (r, "new") in sides else SideCounters(),
            legacy=sides[(r, "legacy")].freeze() if (r, "legacy") in sides else SideCounters(),
            compared=compared.get(r, 0.0),
            mismatched=mismatched.get(r, 0.0),
        )
        for r in routes
    }


def _rollbacks_counter(registry: CollectorRegistry) -> Counter:
    existing = getattr(registry, "_names_to_collectors", {}).get("strangler_rollbacks_total")
    if isinstance(existing, Counter):
        return existing
    return Counter(
        "strangler_rollbacks",
        "Automatic rollbacks of routes in canary or new",
        ["route", "from_mode"],
        registry=registry,
    )


class RollbackMonitor:
    """Judges the proxy's routes every ``rollback.interval`` and rolls back failing ones.

    It judges ``counters`` when given (the leading worker of ``serve --workers N`` passes
    the sum of every worker's counters), else the proxy's own registry.
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        proxy: ProxyLike,
        *,
        on_flip: Callable[[], Awaitable[Any]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        counters: Collector | None = None,
    ) -> None:
        self.config = config
        self.settings = config.rollback
        self.store = store
        self.proxy = proxy
        self.on_flip = on_flip
        self.clock = clock
        self.window = SlidingWindow(self.settings.window)
        self.rollbacks = _rollbacks_counter(proxy.metrics.registry)
        self.counters: Collector = counters if counters is not None else proxy.metrics.registry
        self._seen: dict[str, tuple[str, Decimal | None]] = {}
        self._rolled: dict[str, tuple[str, Decimal | None]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.settings.enabled and self._task is None:
            self._task = asyncio.create_task(self._run(), name="strangler-rollback")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel(task)

    async def _run(self) -> None:
        while True:
            try:
                await self.check()
            except Exception:  # the monitor must outlive a bad check or a store outage
                log.exception("rollback check failed; retrying")
            await asyncio.sleep(self.settings.interval)

    async def check(self) -> list[Flip]:
        """One round: snapshot the counters, judge each route, roll back those that trip."""
        # ~2k samples for 50 routes: read them off the event loop
        snapshot = await asyncio.to_thread(read_counters, self.counters)
        self.window.add(self.clock(), snapshot)
        flips: list[Flip] = []
        for route in self.proxy.table.routes:
            now = (route.mode, route.percent if route.mode == "canary" else None)
            if self._seen.get(route.key) != now:
                self._seen[route.key] = now
                self.window.restart(route.key)
                self._rolled.pop(route.key, None)
                continue
            if route.mode not in ("canary", "new") or self._rolled.get(route.key) == now:
                continue
            reasons = judge(self.window.delta(route.key), self.settings)
            if not reasons:
                continue
            try:
                flip = await asyncio.to_thread(self._roll_back, route.key, now, reasons)
            except StranglerError as exc:  # store down: try again at the next check
                log.error("rollback of %s failed: %s", route.key, exc)
                continue
            self._rolled[route.key] = now
            if flip is not None:
                flips.append(flip)
        if flips and self.on_flip is not None:
            await self.on_flip()
        return flips

    def _roll_back(
        self, key: str, current: tuple[str, Decimal | None], reasons: tuple[str, ...]
    ) -> Flip | None:
        rc = next((r for r in self.config.routes if r.key == key), None)
        if rc is None:
            return None
        st = self.store.live_states().get(key)
        live = (st.mode, st.percent if st.mode == "canary" else None) if st else None
        if live is not None and live != current:
            return None  # someone flipped it meanwhile; the table is about to follow
        mode, percent = current
        was = f"canary {percent.normalize():f}%" if mode == "canary" and percent else mode
        flip = self.store.flip(
            key,
            initial_mode=rc.mode,
            initial_percent=rc.percent if rc.mode == "canary" else None,
            to_mode=self.settings.to_mode,
            to_percent=None,
            reason=f"automatic rollback from {was}: " + "; ".join(reasons),
            actor=ROLLBACK_ACTOR,
            automatic=True,
        )
        self.rollbacks.labels(key, mode).inc()
        log.warning("%s rolled back to %s: %s", key, self.settings.to_mode, "; ".join(reasons))
        return flip
