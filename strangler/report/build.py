"""Build the shadow report from the store: per route, what matched, what differed, how fast.

Reads the aggregates, the per-field counts and a few sampled (already redacted) exchanges
recorded by the shadow runner; explains up to :data:`shadow.explain.MAX_EXPLAINED`
mismatches with deepdiff (here, in the CLI process: never in the proxy)::

    report = build_report(store, config, since=timedelta(hours=1))
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from shadow.explain import MAX_EXPLAINED, explain
from shadow.histogram import LatencyHistogram
from shadow.noise import (
    FieldCounts,
    NoiseThresholds,
    RouteNoise,
    Suggestion,
    field_status,
    rules_block,
)
from shadow.rules import Rules, route_rules
from shadow.signatures import Signatures, reclassify
from strangler._errors import ConfigError
from strangler.config import Config, parse_duration
from strangler.store import Store
from strangler.store.shadow_models import ShadowExchangeRow, ShadowFieldRow, ShadowMinuteRow

__all__ = [
    "Example",
    "FieldReport",
    "Latency",
    "RouteReport",
    "ShadowReport",
    "build_report",
    "parse_since",
]

SEVERITIES = ("status", "schema", "value", "added")


def parse_since(text: str) -> timedelta:
    """``30m``, ``1h``, ``2d``, ``1h30m``, ``90`` (seconds) -> a timedelta; ConfigError for
    anything else (the grammar of :func:`strangler.config.parse_duration`).

    >>> parse_since("1h30m")
    datetime.timedelta(seconds=5400)
    """
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise ConfigError("--since", text, str(exc)) from None
    if seconds <= 0:
        raise ConfigError("--since", text, "a duration longer than 0, e.g. 30m, 1h or 2d")
    return timedelta(seconds=seconds)


@dataclass(frozen=True, slots=True)
class Example:
    """One sampled exchange, redacted: the request and both answers."""

    at: datetime
    method: str
    path: str
    query: str
    request_headers: list[list[str]]
    request_body: str
    primary_side: str
    candidate_side: str
    primary_status: int
    primary_body: str
    candidate_status: int | None
    candidate_body: str
    candidate_error: str
    differences: list[dict[str, Any]]
    explanation: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FieldReport:
    """One differing field of a route: counts, noise status, an example."""

    field: str
    severity: str
    mismatches: int
    noise: int
    legacy_new: int
    legacy_legacy: int
    status: str  # "noise", "real" or "unconfirmed" (learned from the noise samples)
    example: Example | None = None


@dataclass(frozen=True, slots=True)
class Latency:
    """p50/p99 in milliseconds of one side (None when nothing was measured)."""

    count: int
    p50: float | None
    p99: float | None


@dataclass(frozen=True, slots=True)
class RouteReport:
    """Everything the report says about one route."""

    route: str
    requests: int
    compared: int
    matched: int
    noise: int
    mismatches: dict[str, int]
    not_compared: dict[str, int]
    dropped: dict[str, int]
    noise_samples: int
    latency: dict[str, Latency]
    fields: list[FieldReport]
    suggestions: list[Suggestion]
    hidden: int = 0  # differing fields not shown (over `top`; never status or schema ones)
    unconfirmed: int = 0  # mismatches whose fields noise learning has not decided yet

    @property
    def rules(self) -> dict[str, Any]:
        """The suggestions as one ``rules:`` block to paste under this route's entry."""
        return rules_block(self.suggestions)

    @property
    def worst(self) -> int:
        """Rank of the worst open finding (a real or unconfirmed difference): higher is worse."""
        open_ = [f for f in self.fields if f.mismatches and f.status != "noise"]
        return max((_RANK.get(f.severity, 0) for f in open_), default=0)

    @property
    def mismatched(self) -> int:
        return sum(self.mismatches.values())

    @property
    def match_rate(self) -> float | None:
        """Matches and noise over compared requests (None when nothing was compared)."""
        return (self.matched + self.noise) / self.compared if self.compared else None


@dataclass(frozen=True, slots=True)
class ShadowReport:
    """The whole report."""

    generated_at: datetime
    since: datetime
    store: str
    routes: list[RouteReport]


def _rules_for(config: Config | None, route: str) -> Rules:
    if config is None:
        return Rules()
    try:
        return config.route(route).rules
    except Exception:  # a route that left the config: global rules only
        return Rules()


def _example(row: ShadowExchangeRow) -> Example:
    return Example(
        at=row.at,
        method=row.method,
        path=row.path,
        query=row.query,
        request_headers=list(row.request_headers or []),
        request_body=row.request_body,
        primary_side=row.primary_side,
        candidate_side=row.candidate_side,
        primary_status=row.primary_status,
        primary_body=row.primary_body,
        candidate_status=row.candidate_status,
        candidate_body=row.candidate_body,
        candidate_error=row.candidate_error,
        differences=list(row.differences or []),
    )


def build_report(
    store: Store,
    config: Config | None = None,
    *,
    route: str | None = None,
    since: timedelta = timedelta(hours=1),
    now: datetime | None = None,
    top: int | None = 10,
    thresholds: NoiseThresholds = NoiseThresholds(),
) -> ShadowReport:
    """The shadow report for the window ``[now - since, now]`` (one route or all).

    Within a route, fields are ranked by severity, then by how often they differed; ``top``
    caps the list (None: every field) but never hides a status or schema difference.
    Routes come worst first: by their worst open finding, then by mismatches.
    """
    now = now or datetime.now(UTC)
    start = (now - since).replace(second=0, microsecond=0)
    with store.session() as s:
        mq = select(ShadowMinuteRow).where(ShadowMinuteRow.minute >= start)
        fq = select(ShadowFieldRow).where(ShadowFieldRow.minute >= start)
        eq = select(ShadowExchangeRow).where(ShadowExchangeRow.at >= start)
        if route is not None:
            mq = mq.where(ShadowMinuteRow.route == route)
            fq = fq.where(ShadowFieldRow.route == route)
            eq = eq.where(ShadowExchangeRow.route == route)
        minutes = s.scalars(mq).all()
        field_rows = s.scalars(fq).all()
        exchanges = s.scalars(eq.order_by(ShadowExchangeRow.id.desc()).limit(2000)).all()
        routes: dict[str, dict[str, Any]] = {}
        for m in minutes:
            r = routes.setdefault(
                m.route,
                {
                    "requests": 0,
                    "compared": 0,
                    "matched": 0,
                    "noise": 0,
                    "noise_samples": 0,
                    "mismatches": dict.fromkeys(SEVERITIES, 0),
                    "not_compared": {},
                    "dropped": {},
                    "legacy": LatencyHistogram(),
                    "new": LatencyHistogram(),
                    "signatures": Signatures(),
                },
            )
            r["signatures"].merge_json(m.signatures)
            for name in ("requests", "compared", "matched", "noise", "noise_samples"):
                r[name] += getattr(m, name)
            for sev in SEVERITIES:
                r["mismatches"][sev] += getattr(m, f"mismatch_{sev}")
            for name in ("not_compared", "dropped"):
                for k, v in (getattr(m, name) or {}).items():
                    r[name][k] = r[name].get(k, 0) + int(v)
            r["legacy"].merge(m.legacy_ms or [])
            r["new"].merge(m.new_ms or [])
        per_field: dict[str, dict[str, list[Any]]] = {}
        for fr in field_rows:
            slot = per_field.setdefault(fr.route, {}).setdefault(fr.field, ["", 0, 0, 0, 0])
            rank = SEVERITIES[::-1].index(fr.severity) if fr.severity in SEVERITIES else -1
            old = SEVERITIES[::-1].index(slot[0]) if slot[0] in SEVERITIES else -1
            if rank > old:
                slot[0] = fr.severity
            slot[1] += fr.mismatches
            slot[2] += fr.noise
            slot[3] += fr.legacy_new
            slot[4] += fr.legacy_legacy
        examples: dict[tuple[str, str], ShadowExchangeRow] = {}
        values: dict[tuple[str, str], Any] = {}
        for row in exchanges:
            if row.outcome == "mismatch":
                for d in row.differences or []:
                    examples.setdefault((row.route, d.get("field", "")), row)
            for d in [*(row.differences or []), *(row.noise or [])]:
                values.setdefault((row.route, d.get("field", "")), d.get("legacy"))

    reports = []
    explained = 0
    for name in sorted(routes):
        r = routes[name]
        rules = route_rules(config.rules if config else Rules(), _rules_for(config, name))
        noise = RouteNoise(
            thresholds=thresholds, compared=r["compared"], samples=r["noise_samples"]
        )
        statuses: dict[str, str] = {}
        for fname, (_, _, _, ln, ll) in per_field.get(name, {}).items():
            counts = FieldCounts(ll, ln, values.get((name, fname)))
            noise.fields[fname] = counts
            statuses[fname] = field_status(
                counts, samples=r["noise_samples"], compared=r["compared"], thresholds=thresholds
            )
        # Exchanges counted as mismatches before their fields were learned as noise.
        fix = reclassify(r["signatures"].to_json(), statuses.get)
        for label, count in fix.removed.items():
            r["mismatches"][label] = max(0, r["mismatches"].get(label, 0) - count)
        fields = []
        for fname, (sev, mism, nois, ln, ll) in per_field.get(name, {}).items():
            moved = min(mism, fix.by_field.get(fname, 0))
            fields.append(
                FieldReport(fname, sev, mism - moved, nois + moved, ln, ll, statuses[fname])
            )
        fields.sort(key=lambda f: (-_RANK.get(f.severity, 0), -f.mismatches, -f.noise, f.field))
        kept = [
            f
            for i, f in enumerate(fields)
            if top is None or i < top or (f.mismatches and f.severity in ("status", "schema"))
        ]
        shown = []
        for f in kept:
            sample = examples.get((name, f.field))
            example = None
            if sample is not None and f.mismatches:
                example = _example(sample)
                if explained < MAX_EXPLAINED:
                    explained += 1
                    lines = explain(
                        sample.primary_body.encode(), sample.candidate_body.encode(), rules
                    )
                    example = replace(example, explanation=lines)
            shown.append(replace(f, example=example))
        latency = {
            side: Latency(h.count, h.percentile(50), h.percentile(99))
            for side, h in (("legacy", r["legacy"]), ("new", r["new"]))
        }
        reports.append(
            RouteReport(
                route=name,
                requests=r["requests"],
                compared=r["compared"],
                matched=r["matched"],
                noise=r["noise"] + fix.noise,
                mismatches=r["mismatches"],
                not_compared=r["not_compared"],
                dropped=r["dropped"],
                noise_samples=r["noise_samples"],
                latency=latency,
                fields=shown,
                suggestions=noise.suggestions(already_ignored=rules.rules.ignore),
                hidden=len(fields) - len(kept),
                unconfirmed=fix.unconfirmed,
            )
        )
    reports.sort(key=lambda r: (-r.worst, -r.mismatched, r.route))
    return ShadowReport(now, start, store.safe_url, reports)


_RANK = {"status": 4, "schema": 3, "value": 2, "added": 1}
