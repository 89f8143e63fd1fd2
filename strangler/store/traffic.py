"""Reads the store's per-minute aggregates for readiness and progress.

Two sources, both written off the hot path:

- ``shadow_minutes`` (the shadow recorder): compared requests and their verdicts, and the
  latency of both sides on the same requests;
- ``traffic_minutes`` (:mod:`strangler.traffic_recorder`): answers each side served to
  clients, attempts, errors, latency.

Readiness sums a route's minutes over its window into a :class:`WindowStats`; progress
sums the answers served by each side into totals and a daily trend.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from shadow.histogram import LatencyHistogram
from shadow.signatures import Signatures, reclassify_counts
from strangler.records import SideTotals, TrafficPoint, WindowStats
from strangler.store.aggregates import add_latency, minute_row
from strangler.store.repository import Store
from strangler.store.shadow_models import ShadowFieldRow, ShadowMinuteRow
from strangler.store.traffic_models import TrafficMinuteRow

__all__ = [
    "SideTotals",
    "TrafficPoint",
    "field_counts",
    "route_activity",
    "served_totals",
    "served_trend",
    "window_stats",
    "write_traffic",
]


@dataclass
class _Acc:
    compared: int = 0
    matched: int = 0
    noise: int = 0
    mismatched: int = 0
    auth_refused: int = 0
    noise_samples: int = 0
    signatures: Signatures = field(default_factory=Signatures)
    shadow_ms: dict[str, LatencyHistogram] = field(
        default_factory=lambda: {"legacy": LatencyHistogram(), "new": LatencyHistogram()}
    )
    requests: dict[str, int] = field(default_factory=lambda: {"legacy": 0, "new": 0})
    errors: dict[str, int] = field(default_factory=lambda: {"legacy": 0, "new": 0})
    served_ms: dict[str, LatencyHistogram] = field(
        default_factory=lambda: {"legacy": LatencyHistogram(), "new": LatencyHistogram()}
    )

    def p99_ms(self, side: str) -> float | None:
        """Prefer the shadow pairs (both sides timed on the same requests)."""
        pairs = self.shadow_ms
        if pairs["legacy"].count and pairs["new"].count:
            return pairs[side].percentile(99)
        return self.served_ms[side].percentile(99)

    def stats(self) -> WindowStats:
        return WindowStats(
            auth_refused=self.auth_refused,
            compared=self.compared,
            matched=self.matched,
            noise=self.noise,
            mismatched=self.mismatched,
            legacy_requests=self.requests["legacy"],
            legacy_errors=self.errors["legacy"],
            new_requests=self.requests["new"],
            new_errors=self.errors["new"],
            legacy_p99_ms=self.p99_ms("legacy"),
            new_p99_ms=self.p99_ms("new"),
        )


def _floor(at: datetime) -> datetime:
    return at.replace(second=0, microsecond=0)


def window_stats(
    store: Store, since: datetime, until: datetime, routes: Collection[str] | None = None
) -> dict[str, WindowStats]:
    """Each route's (or each of ``routes``') traffic from the minute of ``since`` to ``until``."""
    acc: dict[str, _Acc] = defaultdict(_Acc)
    lo = _floor(since)
    shadow_where = [ShadowMinuteRow.minute >= lo, ShadowMinuteRow.minute <= until]
    served_where = [TrafficMinuteRow.minute >= lo, TrafficMinuteRow.minute <= until]
    # `auth`: the field of a 401/403 on one side only (see shadow.compare)
    auth_where = [
        ShadowFieldRow.field == "auth",
        ShadowFieldRow.minute >= lo,
        ShadowFieldRow.minute <= until,
    ]
    if routes is not None:
        shadow_where.append(ShadowMinuteRow.route.in_(sorted(routes)))
        served_where.append(TrafficMinuteRow.route.in_(sorted(routes)))
        auth_where.append(ShadowFieldRow.route.in_(sorted(routes)))
    with store.session() as s:
        shadow = s.execute(
            select(
                ShadowMinuteRow.route,
                ShadowMinuteRow.compared,
                ShadowMinuteRow.matched,
                ShadowMinuteRow.noise,
                ShadowMinuteRow.mismatch_status
                + ShadowMinuteRow.mismatch_schema
                + ShadowMinuteRow.mismatch_value
                + ShadowMinuteRow.mismatch_added,
                ShadowMinuteRow.legacy_ms,
                ShadowMinuteRow.new_ms,
                ShadowMinuteRow.noise_samples,
                ShadowMinuteRow.signatures,
            ).where(*shadow_where)
        ).all()

        refused = s.execute(
            select(ShadowFieldRow.route, func.sum(ShadowFieldRow.mismatches))
            .where(*auth_where)
            .group_by(ShadowFieldRow.route)
        ).all()
        served = s.execute(
            select(
                TrafficMinuteRow.route,
                TrafficMinuteRow.side,
                TrafficMinuteRow.requests,
                TrafficMinuteRow.errors,
                TrafficMinuteRow.latency,
            ).where(*served_where)
        ).all()
    for route, compared, matched, noise, mismatched, legacy_ms, new_ms, samples, sigs in shadow:
        a = acc[route]
        a.compared += compared or 0
        a.matched += matched or 0
        a.noise += noise or 0
        a.mismatched += mismatched or 0
        a.noise_samples += samples or 0
        a.signatures.merge_json(sigs)
        a.shadow_ms["legacy"].merge(legacy_ms or [])
        a.shadow_ms["new"].merge(new_ms or [])
    _correct_early_verdicts(acc, field_counts(store, lo, until, routes))
    for route, count in refused:
        acc[route].auth_refused += int(count or 0)
    for route, side, requests, errors, latency in served:
        if side not in ("legacy", "new"):
            continue
        a = acc[route]
        a.requests[side] += requests or 0
        a.errors[side] += errors or 0
        a.served_ms[side].merge(latency or [])
    return {route: a.stats() for route, a in acc.items()}


def served_totals(store: Store, since: datetime, until: datetime) -> SideTotals:
    """Answers served by legacy and by new, all routes, from ``since`` to ``until``."""
    with store.session() as s:
        rows = s.execute(
            select(TrafficMinuteRow.side, func.sum(TrafficMinuteRow.served))
            .where(TrafficMinuteRow.minute >= _floor(since), TrafficMinuteRow.minute <= until)
            .group_by(TrafficMinuteRow.side)
        ).all()
    by_side = {side: int(total or 0) for side, total in rows}
    return SideTotals(by_side.get("legacy", 0), by_side.get("new", 0))


#: Bucket widths a trend may use, finest first: the first that keeps the migration's own
#: time range within ``TREND_POINTS`` buckets is taken.
TREND_STEPS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(days=1),
)
TREND_POINTS = 120


def route_activity(
    store: Store, since: datetime, day_start: datetime
) -> dict[str, tuple[int, int, datetime]]:
    """Per route key (the catch-all included): answers served since ``day_start`` and since
    ``since``, and the last minute it served any."""
    with store.session() as s:
        rows = s.execute(
            select(
                TrafficMinuteRow.route,
                func.sum(TrafficMinuteRow.served),
                func.max(TrafficMinuteRow.minute),
            )
            .where(TrafficMinuteRow.minute >= _floor(since), TrafficMinuteRow.served > 0)
            .group_by(TrafficMinuteRow.route)
        ).all()
        recent = dict(
            s.execute(
                select(TrafficMinuteRow.route, func.sum(TrafficMinuteRow.served))
                .where(TrafficMinuteRow.minute >= _floor(day_start))
                .group_by(TrafficMinuteRow.route)
            ).all()
        )
    return {
        route: (int(recent.get(route) or 0), int(total or 0), last) for route, total, last in rows
    }


def served_trend(store: Store, since: datetime, until: datetime) -> list[TrafficPoint]:
    """Answers served by legacy and by new over the migration's own time range: from the
    first traffic recorded after ``since`` to ``until``, in buckets as fine as keep that
    range within :data:`TREND_POINTS` (a migration that began 20 minutes ago gets minutes,
    not one point at midnight), oldest first; buckets without traffic are left out."""
    with store.session() as s:
        rows = s.execute(
            select(
                TrafficMinuteRow.minute, TrafficMinuteRow.side, func.sum(TrafficMinuteRow.served)
            )
            .where(TrafficMinuteRow.minute >= _floor(since), TrafficMinuteRow.minute <= until)
            .group_by(TrafficMinuteRow.minute, TrafficMinuteRow.side)
        ).all()
    if not rows:
        return []
    first = min(minute for minute, _, _ in rows)
    span = until - first
    step = next((w for w in TREND_STEPS if span <= w * TREND_POINTS), TREND_STEPS[-1])
    buckets: dict[datetime, list[int]] = {}
    for minute, side, served in rows:
        if side not in ("legacy", "new"):
            continue
        start = first + ((minute - first) // step) * step
        slot = buckets.setdefault(start, [0, 0])
        slot[side == "new"] += int(served or 0)
    return [
        TrafficPoint(start, legacy, new)
        for start, (legacy, new) in sorted(buckets.items())
        if legacy or new
    ]


def field_counts(
    store: Store,
    since: datetime,
    until: datetime | None = None,
    routes: Collection[str] | None = None,
) -> dict[str, dict[str, tuple[int, int]]]:
    """Per route and field, how often it differed ``(legacy vs legacy, legacy vs new)``
    from the minute of ``since`` (to ``until``): what noise learning decides from."""
    where = [ShadowFieldRow.minute >= _floor(since)]
    if until is not None:
        where.append(ShadowFieldRow.minute <= until)
    if routes is not None:
        where.append(ShadowFieldRow.route.in_(sorted(routes)))
    out: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    with store.session() as s:
        rows = s.execute(
            select(
                ShadowFieldRow.route,
                ShadowFieldRow.field,
                func.sum(ShadowFieldRow.legacy_legacy),
                func.sum(ShadowFieldRow.legacy_new),
            )
            .where(*where)
            .group_by(ShadowFieldRow.route, ShadowFieldRow.field)
        ).all()
    for route, name, legacy_legacy, legacy_new in rows:
        out[route][name] = (int(legacy_legacy or 0), int(legacy_new or 0))
    return dict(out)


def _correct_early_verdicts(
    acc: dict[str, _Acc], counts: dict[str, dict[str, tuple[int, int]]]
) -> None:
    """Exchanges counted as mismatches before their fields were learned as noise count as
    noise (the same correction the shadow report makes: see ``shadow.signatures``)."""
    for route, a in acc.items():
        fix = reclassify_counts(
            a.signatures.to_json(),
            counts.get(route, {}),
            samples=a.noise_samples,
            compared=a.compared,
        )
        moved = min(fix.noise, a.mismatched)
        a.mismatched -= moved
        a.noise += moved


_TRAFFIC_ZEROS: dict[str, Any] = {"served": 0, "requests": 0, "errors": 0, "latency": []}


def write_traffic(
    store: Store,
    instance: str,
    rows: Mapping[tuple[str, datetime, str], tuple[int, int, int, tuple[int, ...]]],
) -> None:
    """Add per (route, minute, side) ``(served, requests, errors, latency)`` to this process's
    rows, in one transaction (raises StoreError; nothing is written then). ``latency`` is a
    :class:`~shadow.histogram.LatencyHistogram`'s counts, the store's one latency format."""
    with store.session() as s:
        for (route, minute, side), (served, requests, errors, latency) in rows.items():
            key = {"route": route, "minute": minute, "instance": instance, "side": side}
            row = minute_row(s, TrafficMinuteRow, key, _TRAFFIC_ZEROS)
            row.served += served
            row.requests += requests
            row.errors += errors
            row.latency = add_latency(row.latency, latency)
