"""Build the shadow report from the store: per route, what matched, what differed, how fast.

Reads the aggregates, the per-field counts and a few sampled (already redacted) exchanges
recorded by the shadow runner; explains up to :data:`shadow.explain.MAX_EXPLAINED`
mismatches with deepdiff (here, in the CLI process: never in the proxy)::

    report = build_report(store, config, since=timedelta(hours=1))
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from shadow.explain import MAX_EXPLAINED, explain
from shadow.noise import (
    FieldCounts,
    NoiseThresholds,
    RouteNoise,
    Suggestion,
    field_status,
    rules_block,
)
from shadow.rules import CompiledRules, Rules, route_rules
from shadow.signatures import reclassify
from strangler._errors import ConfigError
from strangler.config import Config, duration_option
from strangler.store import Store
from strangler.store.shadow import (
    SEVERITY_RANK,
    FieldTally,
    MinuteCounts,
    SampledExchange,
    shadow_window,
)

__all__ = [
    "Example",
    "FieldReport",
    "Latency",
    "RouteReport",
    "ShadowReport",
    "build_report",
    "parse_since",
]


def parse_since(text: str) -> timedelta:
    """``30m``, ``1h``, ``2d``, ``1h30m``, ``90`` (seconds) -> a timedelta; ConfigError for
    anything else (the grammar of :func:`strangler.config.parse_duration`).

    >>> parse_since("1h30m")
    datetime.timedelta(seconds=5400)
    """
    seconds = duration_option("--since", text)
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
        return max((SEVERITY_RANK.get(f.severity, 0) for f in open_), default=0)

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


def _example(row: SampledExchange) -> Example:
    return Example(
        at=row.at,
        method=row.method,
        path=row.path,
        query=row.query,
        request_headers=row.request_headers,
        request_body=row.request_body,
        primary_side=row.primary_side,
        candidate_side=row.candidate_side,
        primary_status=row.primary_status,
        primary_body=row.primary_body,
        candidate_status=row.candidate_status,
        candidate_body=row.candidate_body,
        candidate_error=row.candidate_error,
        differences=row.differences,
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
    window = shadow_window(store, start, route)
    examples, values = _examples(window.exchanges)
    budget = _Budget()
    reports = [
        _route_report(
            name,
            totals,
            window.fields.get(name, {}),
            examples,
            values,
            rules=route_rules(config.rules if config else Rules(), _rules_for(config, name)),
            thresholds=thresholds,
            top=top,
            budget=budget,
        )
        for name, totals in sorted(window.routes.items())
    ]
    reports.sort(key=lambda r: (-r.worst, -r.mismatched, r.route))
    return ShadowReport(now, start, store.safe_url, reports)


@dataclass(slots=True)
class _Budget:
    """How many more examples may be explained (explaining is the costly part)."""

    left: int = MAX_EXPLAINED


def _examples(
    exchanges: Iterable[SampledExchange],
) -> tuple[dict[tuple[str, str], SampledExchange], dict[tuple[str, str], Any]]:
    """The newest mismatched exchange of each field, and a value each field had."""
    examples: dict[tuple[str, str], SampledExchange] = {}
    values: dict[tuple[str, str], Any] = {}
    for row in exchanges:
        if row.outcome == "mismatch":
            for d in row.differences:
                examples.setdefault((row.route, d.get("field", "")), row)
        for d in [*row.differences, *row.noise]:
            values.setdefault((row.route, d.get("field", "")), d.get("legacy"))
    return examples, values


def _route_report(
    name: str,
    t: MinuteCounts,
    per_field: dict[str, FieldTally],
    examples: dict[tuple[str, str], SampledExchange],
    values: dict[tuple[str, str], Any],
    *,
    rules: CompiledRules,
    thresholds: NoiseThresholds,
    top: int | None,
    budget: _Budget,
) -> RouteReport:
    noise = RouteNoise(thresholds=thresholds, compared=t.compared, samples=t.noise_samples)
    statuses: dict[str, str] = {}
    for fname, f in per_field.items():
        counts = noise.fields[fname] = FieldCounts(
            f.legacy_legacy, f.legacy_new, values.get((name, fname))
        )
        statuses[fname] = field_status(
            counts, samples=t.noise_samples, compared=t.compared, thresholds=thresholds
        )
    # Exchanges counted as mismatches before their fields were learned as noise.
    fix = reclassify(t.signatures.to_json(), statuses.get)
    mismatches = {
        label: max(0, count - fix.removed.get(label, 0)) for label, count in t.mismatch.items()
    }
    fields = []
    for fname, f in per_field.items():
        moved = min(f.mismatches, fix.by_field.get(fname, 0))
        fields.append(
            FieldReport(
                fname,
                f.severity,
                f.mismatches - moved,
                f.noise + moved,
                f.legacy_new,
                f.legacy_legacy,
                statuses[fname],
            )
        )
    fields.sort(key=lambda f: (-SEVERITY_RANK.get(f.severity, 0), -f.mismatches, -f.noise, f.field))
    kept = [
        f
        for i, f in enumerate(fields)
        if top is None or i < top or (f.mismatches and f.severity in ("status", "schema"))
    ]
    return RouteReport(
        route=name,
        requests=t.requests,
        compared=t.compared,
        matched=t.matched,
        noise=t.noise + fix.noise,
        mismatches=mismatches,
        not_compared=t.not_compared,
        dropped=t.dropped,
        noise_samples=t.noise_samples,
        latency={
            side: Latency(h.count, h.percentile(50), h.percentile(99))
            for side, h in (("legacy", t.legacy), ("new", t.new))
        },
        fields=[_with_example(f, examples.get((name, f.field)), rules, budget) for f in kept],
        suggestions=noise.suggestions(already_ignored=rules.rules.ignore),
        hidden=len(fields) - len(kept),
        unconfirmed=fix.unconfirmed,
    )


def _with_example(
    f: FieldReport, sample: SampledExchange | None, rules: CompiledRules, budget: _Budget
) -> FieldReport:
    if sample is None or not f.mismatches:
        return f
    example = _example(sample)
    if budget.left > 0:
        budget.left -= 1
        lines = explain(sample.primary_body.encode(), sample.candidate_body.encode(), rules)
        example = replace(example, explanation=lines)
    return replace(f, example=example)
