"""Automatic rollback: the proxy sends a failing route back to a safer mode by itself.

The pure core judges a route's counters over a sliding window: new's error rate, new's p99
latency against legacy's, and the mismatching share of compared requests, each only once
the window holds ``rollback.min_requests``. The window is fed with cumulative counter
snapshots (the proxy's own Prometheus counters, read every ``rollback.interval``): nothing
is added to the hot path and no database is queried per request::

    >>> from strangler.config import RollbackSettings
from strangler.metrics import p99_from_buckets
    >>> win = SlidingWindow(span=60)
    >>> win.add(0.0, {"GET /a": RouteCounters()})
    >>> win.add(5.0, {"GET /a": RouteCounters(new=SideCounters(requests=40, errors=30))})
    >>> judge(win.delta("GET /a"), RollbackSettings())
    ("new's error rate 75.00% of 40 requests in the last 60s (limit 5.00%)",)

:class:`~strangler.rollback_monitor.RollbackMonitor` wires it into the proxy process.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from strangler.config import RollbackSettings
from strangler.metrics import p99_from_buckets

__all__ = ["RouteCounters", "SideCounters", "SlidingWindow", "judge", "p99_from_buckets"]

P99_MIN_SAMPLE = 100
"""A p99 from fewer answers per side is one or two slow requests: latency is not judged."""


@dataclass(frozen=True, slots=True)
class SideCounters:
    """Cumulative counts for one side of one route.

    ``buckets`` pairs each latency bucket's upper bound (seconds, ``inf`` last) with the
    cumulative number of observations at or under it, as Prometheus histograms do.
    """

    requests: float = 0.0
    errors: float = 0.0
    buckets: tuple[tuple[float, float], ...] = ()
    served: float = 0.0

    def minus(self, older: SideCounters) -> SideCounters:
        old = dict(older.buckets)
        return SideCounters(
            requests=max(0.0, self.requests - older.requests),
            errors=max(0.0, self.errors - older.errors),
            buckets=tuple((le, max(0.0, n - old.get(le, 0.0))) for le, n in self.buckets),
            served=max(0.0, self.served - older.served),
        )

    @property
    def p99(self) -> float | None:
        return p99_from_buckets(self.buckets)


@dataclass(frozen=True, slots=True)
class RouteCounters:
    """Cumulative counts of one route: each side, and the shadow comparisons."""

    new: SideCounters = field(default_factory=SideCounters)
    legacy: SideCounters = field(default_factory=SideCounters)
    compared: float = 0.0
    mismatched: float = 0.0

    def minus(self, older: RouteCounters) -> RouteCounters:
        return RouteCounters(
            new=self.new.minus(older.new),
            legacy=self.legacy.minus(older.legacy),
            compared=max(0.0, self.compared - older.compared),
            mismatched=max(0.0, self.mismatched - older.mismatched),
        )


class SlidingWindow:
    """Cumulative snapshots over the last ``span`` seconds; deltas per route.

    A route's window can be restarted (:meth:`restart`) when its mode changes, so failures
    seen before a flip never count against the mode that follows it.
    """

    def __init__(self, span: float) -> None:
        self.span = span
        self._snaps: deque[tuple[float, Mapping[str, RouteCounters]]] = deque()
        self._floor: dict[str, float] = {}

    def add(self, t: float, snapshot: Mapping[str, RouteCounters]) -> None:
        self._snaps.append((t, snapshot))
        # keep the newest snapshot at or before the window's start as the baseline
        while len(self._snaps) > 1 and self._snaps[1][0] <= t - self.span:
            self._snaps.popleft()

    def restart(self, route: str) -> None:
        """Judge ``route`` only on what happens from the newest snapshot on."""
        if self._snaps:
            self._floor[route] = self._snaps[-1][0]

    def delta(self, route: str) -> RouteCounters:
        """What ``route`` counted between the window's baseline and the newest snapshot."""
        if not self._snaps:
            return RouteCounters()
        newest = self._snaps[-1][1].get(route, RouteCounters())
        floor = self._floor.get(route)
        base = RouteCounters()
        for t, snap in self._snaps:
            if floor is None or t >= floor:
                base = snap.get(route, RouteCounters())
                break
        return newest.minus(base)


def _pct(value: float) -> str:
    return f"{value * 100:.2f}%"


def judge(delta: RouteCounters, settings: RollbackSettings) -> tuple[str, ...]:
    """Why the route must roll back (empty: healthy, or too little traffic to tell)."""
    s = settings
    span = f"{s.window:g}s"
    reasons: list[str] = []
    new = delta.new
    if new.requests >= s.min_requests:
        rate = new.errors / new.requests
        if rate > s.max_error_rate:
            reasons.append(
                f"new's error rate {_pct(rate)} of {new.requests:.0f} requests in the last "
                f"{span} (limit {_pct(s.max_error_rate)})"
            )
        legacy_p99, new_p99 = delta.legacy.p99, new.p99
        if (
            min(new.requests, delta.legacy.requests) >= max(s.min_requests, P99_MIN_SAMPLE)
            and legacy_p99
            and new_p99 is not None
            and new_p99 / legacy_p99 > s.max_p99_ratio
        ):
            reasons.append(
                f"new's p99 latency {new_p99 * 1000:.0f} ms is {new_p99 / legacy_p99:.1f}x "
                f"legacy's {legacy_p99 * 1000:.0f} ms over the last {span} "
                f"(limit {s.max_p99_ratio:g}x)"
            )
    if delta.compared >= s.min_requests:
        rate = delta.mismatched / delta.compared
        if rate > s.max_mismatch_rate:
            reasons.append(
                f"{_pct(rate)} of {delta.compared:.0f} compared requests mismatch in the last "
                f"{span} (limit {_pct(s.max_mismatch_rate)})"
            )
    return tuple(reasons)
