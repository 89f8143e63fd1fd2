"""The shadow aggregates' repository: what the recorder writes (per route and minute, per
field, sampled exchanges) and what the report, the dashboard and ``strangler record`` read.

The recorder accumulates plain values (:class:`MinuteCounts`, :class:`FieldTally`,
:class:`SampledExchange`) and hands them over in one batch; the readers get plain values,
never a row or a session.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from shadow.histogram import LatencyHistogram
from shadow.signatures import Signatures
from strangler.store.aggregates import add_latency, minute_row
from strangler.store.repository import Store
from strangler.store.shadow_models import ShadowExchangeRow, ShadowFieldRow, ShadowMinuteRow

__all__ = [
    "SEVERITY_RANK",
    "FieldTally",
    "FieldTotal",
    "MinuteCounts",
    "SampledExchange",
    "ShadowWindow",
    "exchanges_from",
    "field_totals",
    "latest_exchange",
    "noise_totals",
    "shadow_window",
    "write_shadow",
]

SEVERITY_RANK = {"": 0, "added": 1, "value": 2, "schema": 3, "status": 4}


@dataclass(slots=True)
class MinuteCounts:
    """One route's shadow counts for one minute, as one process saw them."""

    requests: int = 0
    compared: int = 0
    matched: int = 0
    noise: int = 0
    mismatch: dict[str, int] = field(default_factory=dict)
    noise_samples: int = 0
    not_compared: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    legacy: LatencyHistogram = field(default_factory=LatencyHistogram)
    new: LatencyHistogram = field(default_factory=LatencyHistogram)
    signatures: Signatures = field(default_factory=Signatures)


@dataclass(slots=True)
class FieldTally:
    """How often one field differed, for one route and minute, as one process saw it."""

    severity: str = ""
    mismatches: int = 0
    noise: int = 0
    legacy_new: int = 0
    legacy_legacy: int = 0


@dataclass(frozen=True, slots=True)
class SampledExchange:
    """One sampled exchange with its verdict, redacted before it got here (bodies as text)."""

    route: str
    at: datetime
    instance: str
    outcome: str
    severity: str
    field: str
    reason: str
    method: str
    path: str
    query: str
    request_headers: list[list[str]]
    request_body: str
    primary_side: str
    candidate_side: str
    primary_status: int
    primary_headers: list[list[str]]
    primary_body: str
    primary_ms: float
    candidate_status: int | None
    candidate_headers: list[list[str]]
    candidate_body: str
    candidate_ms: float | None
    candidate_error: str
    differences: list[dict[str, Any]]
    noise: list[dict[str, Any]]
    id: int = 0  # given by the store


_EXCHANGE_COLUMNS = tuple(f.name for f in fields(SampledExchange) if f.name != "id")


def _exchange_row(x: SampledExchange) -> ShadowExchangeRow:
    return ShadowExchangeRow(**{name: getattr(x, name) for name in _EXCHANGE_COLUMNS})


def _exchange(row: ShadowExchangeRow) -> SampledExchange:
    values = {name: getattr(row, name) for name in _EXCHANGE_COLUMNS}
    for name in ("request_headers", "primary_headers", "candidate_headers", "differences", "noise"):
        values[name] = list(values[name] or [])
    return SampledExchange(**values, id=row.id)


_MINUTE_ZEROS: dict[str, Any] = {
    "requests": 0,
    "compared": 0,
    "matched": 0,
    "noise": 0,
    "mismatch_status": 0,
    "mismatch_schema": 0,
    "mismatch_value": 0,
    "mismatch_added": 0,
    "noise_samples": 0,
    "not_compared": {},
    "dropped": {},
    "legacy_ms": [],
    "new_ms": [],
}
_FIELD_ZEROS: dict[str, Any] = {
    "severity": "",
    "mismatches": 0,
    "noise": 0,
    "legacy_new": 0,
    "legacy_legacy": 0,
}


def write_shadow(
    store: Store,
    instance: str,
    minutes: Mapping[tuple[str, datetime], MinuteCounts],
    fields: Mapping[tuple[str, datetime, str], FieldTally],
    samples: Iterable[SampledExchange],
) -> None:
    """Add one batch in one transaction (raises StoreError; nothing is written then)."""
    with store.session() as s:
        for (route, minute_at), m in minutes.items():
            key = {"route": route, "minute": minute_at, "instance": instance}
            _add_minute(minute_row(s, ShadowMinuteRow, key, _MINUTE_ZEROS), m)
        for (route, minute_at, name), f in fields.items():
            key = {"route": route, "minute": minute_at, "instance": instance, "field": name}
            _add_field(minute_row(s, ShadowFieldRow, key, _FIELD_ZEROS), f)
        s.add_all(_exchange_row(x) for x in samples)


def _add_minute(row: ShadowMinuteRow, m: MinuteCounts) -> None:
    row.requests += m.requests
    row.compared += m.compared
    row.matched += m.matched
    row.noise += m.noise
    row.mismatch_status += m.mismatch.get("status", 0)
    row.mismatch_schema += m.mismatch.get("schema", 0)
    row.mismatch_value += m.mismatch.get("value", 0)
    row.mismatch_added += m.mismatch.get("added", 0)
    row.noise_samples += m.noise_samples
    row.not_compared = _add(row.not_compared, m.not_compared)
    row.dropped = _add(row.dropped, m.dropped)
    row.legacy_ms = add_latency(row.legacy_ms, m.legacy)
    row.new_ms = add_latency(row.new_ms, m.new)
    if m.signatures:
        merged = Signatures()
        merged.merge_json(row.signatures)
        merged.merge_json(m.signatures.to_json())
        row.signatures = merged.to_json()


def _add_field(row: ShadowFieldRow | FieldTally, f: ShadowFieldRow | FieldTally) -> None:
    if SEVERITY_RANK.get(f.severity, 0) > SEVERITY_RANK.get(row.severity, 0):
        row.severity = f.severity
    row.mismatches += f.mismatches
    row.noise += f.noise
    row.legacy_new += f.legacy_new
    row.legacy_legacy += f.legacy_legacy


def _add(stored: dict[str, Any] | None, more: dict[str, int]) -> dict[str, int]:
    out = {k: int(v) for k, v in (stored or {}).items()}
    for k, v in more.items():
        out[k] = out.get(k, 0) + v
    return out


# -- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShadowWindow:
    """Everything recorded since a minute, summed per route: what the report is built from."""

    routes: dict[str, MinuteCounts]  # every minute of a route (every process) added up
    fields: dict[str, dict[str, FieldTally]]  # per route and field, added up
    exchanges: tuple[SampledExchange, ...]  # newest first, at most ``exchange_limit``


def shadow_window(
    store: Store, start: datetime, route: str | None = None, *, exchange_limit: int = 2000
) -> ShadowWindow:
    """The sums of the minutes and field counts, and the newest sampled exchanges, from
    ``start`` (one route or all)."""
    mq = select(ShadowMinuteRow).where(ShadowMinuteRow.minute >= start)
    fq = select(ShadowFieldRow).where(ShadowFieldRow.minute >= start)
    eq = select(ShadowExchangeRow).where(ShadowExchangeRow.at >= start)
    if route is not None:
        mq = mq.where(ShadowMinuteRow.route == route)
        fq = fq.where(ShadowFieldRow.route == route)
        eq = eq.where(ShadowExchangeRow.route == route)
    routes: dict[str, MinuteCounts] = {}
    per_field: dict[str, dict[str, FieldTally]] = {}
    with store.session() as s:
        for m in s.scalars(mq):
            _sum_minute(routes, m)
        for f in s.scalars(fq):
            _add_field(per_field.setdefault(f.route, {}).setdefault(f.field, FieldTally()), f)
        exchanges = s.scalars(eq.order_by(ShadowExchangeRow.id.desc()).limit(exchange_limit))
        return ShadowWindow(routes, per_field, tuple(_exchange(x) for x in exchanges))


_SEVERITIES = ("status", "schema", "value", "added")


def _sum_minute(routes: dict[str, MinuteCounts], m: ShadowMinuteRow) -> None:
    t = routes.get(m.route)
    if t is None:
        t = routes[m.route] = MinuteCounts(mismatch=dict.fromkeys(_SEVERITIES, 0))
    t.signatures.merge_json(m.signatures)
    t.requests += m.requests
    t.compared += m.compared
    t.matched += m.matched
    t.noise += m.noise
    t.noise_samples += m.noise_samples
    for sev in _SEVERITIES:
        t.mismatch[sev] += getattr(m, f"mismatch_{sev}")
    t.not_compared = _add(t.not_compared, m.not_compared or {})
    t.dropped = _add(t.dropped, m.dropped or {})
    t.legacy.merge(m.legacy_ms or [])
    t.new.merge(m.new_ms or [])


@dataclass(frozen=True, slots=True)
class FieldTotal:
    """One field of a route over a window: worst severity, mismatches, noise."""

    field: str
    severity: str
    mismatches: int
    noise: int


def field_totals(store: Store, route: str, since: datetime | None = None) -> list[FieldTotal]:
    """Each field of ``route`` that differed (as a mismatch or as noise) since ``since``."""
    q = select(
        ShadowFieldRow.field,
        func.max(ShadowFieldRow.severity),
        func.sum(ShadowFieldRow.mismatches),
        func.sum(ShadowFieldRow.noise),
    ).where(ShadowFieldRow.route == route)
    if since is not None:
        q = q.where(ShadowFieldRow.minute >= since)
    with store.session() as s:
        rows = s.execute(q.group_by(ShadowFieldRow.field)).all()
    return [
        FieldTotal(name, severity or "", int(m or 0), int(n or 0))
        for name, severity, m, n in rows
        if m or n
    ]


def latest_exchange(store: Store, route: str, field_name: str) -> SampledExchange | None:
    """The newest sampled exchange of ``route`` whose worst field is ``field_name``."""
    with store.session() as s:
        row = s.scalars(
            select(ShadowExchangeRow)
            .where(ShadowExchangeRow.route == route, ShadowExchangeRow.field == field_name)
            .order_by(ShadowExchangeRow.id.desc())
            .limit(1)
        ).first()
        return _exchange(row) if row is not None else None


def exchanges_from(
    store: Store, since: datetime | None = None, *, batch: int = 500
) -> Iterator[SampledExchange]:
    """Every sampled exchange (from ``since``), oldest first, read in batches."""
    query = select(ShadowExchangeRow).order_by(ShadowExchangeRow.id)
    if since is not None:
        query = query.where(ShadowExchangeRow.at >= since)
    last = 0
    while True:
        with store.session() as s:
            rows = s.scalars(query.where(ShadowExchangeRow.id > last).limit(batch))
            found = [_exchange(row) for row in rows]
        if not found:
            return
        yield from found
        last = found[-1].id


def noise_totals(store: Store, since: datetime) -> dict[str, tuple[int, int]]:
    """Per route, ``(compared, noise samples)`` since ``since``: what learning starts from."""
    with store.session() as s:
        rows = s.execute(
            select(
                ShadowMinuteRow.route,
                func.sum(ShadowMinuteRow.compared),
                func.sum(ShadowMinuteRow.noise_samples),
            )
            .where(ShadowMinuteRow.minute >= since)
            .group_by(ShadowMinuteRow.route)
        ).all()
    return {route: (int(c or 0), int(n or 0)) for route, c, n in rows}
