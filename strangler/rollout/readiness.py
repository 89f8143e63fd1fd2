"""Readiness: whether a route's evidence allows the next flip (a pure function).

The verdict is computed from plain values: the route's traffic over a recent window
(:class:`WindowStats`, summed from the store's per-minute aggregates by
:mod:`strangler.control`) and the newest parity-test, load-test and
data-verification results stored for the route. Each condition says what was measured and
what was needed, so a refused flip can print exactly why::

    >>> from strangler.config import ReadinessThresholds
    >>> stats = WindowStats(compared=500, mismatched=20, legacy_requests=500,
    ...                     new_requests=500, legacy_p99_ms=80.0, new_p99_ms=90.0)
    >>> verdict = assess("GET /orgs/{slug}", stats, {}, ReadinessThresholds())
    >>> verdict.ready, verdict.blockers
    (False, ('parity: 96.00% of 500 compared requests agree (needs >= 99.00%)',))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from strangler.config import ReadinessThresholds
from strangler.records import Evidence, WindowStats

__all__ = ["EVIDENCE_KINDS", "Condition", "Readiness", "WindowStats", "assess"]

EVIDENCE_KINDS: dict[str, str] = {
    "parity": "parity tests",
    "load": "load test",
    "data": "data verification",
}
"""Stored evidence kinds and the name their condition carries."""


@dataclass(frozen=True, slots=True)
class Condition:
    """One readiness condition: what was measured against which threshold."""

    name: str
    passed: bool
    measured: str
    threshold: str

    def describe(self) -> str:
        """``'parity: 96.00% of 500 compared requests agree (needs >= 99.00%)'``."""
        return f"{self.name}: {self.measured} (needs {self.threshold})"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "measured": self.measured,
            "threshold": self.threshold,
        }


@dataclass(frozen=True, slots=True)
class Readiness:
    """A route's verdict: ready when every condition passed."""

    route: str
    conditions: tuple[Condition, ...]
    stats: WindowStats = field(default_factory=WindowStats)
    window: float = 3600.0
    mode: str | None = None
    """The route's live mode, when known: a route still in ``legacy`` may always move to
    ``shadow`` (that move is never gated), so its verdict is "ready for shadow"."""

    @property
    def ready(self) -> bool:
        return all(c.passed for c in self.conditions)

    @property
    def next_step(self) -> str | None:
        """The move this verdict is about: ``shadow`` from legacy (never gated),
        ``canary or new`` from shadow, ``new`` from canary, None once on new or retired."""
        return _NEXT.get(self.mode or "shadow")

    @property
    def ready_for_next(self) -> bool:
        """Whether :attr:`next_step` is allowed now (always, for the move to shadow)."""
        return self.mode == "legacy" or self.ready

    @property
    def headline(self) -> str:
        """``'ready for shadow'``, ``'ready'`` or ``'not ready (2)'``: one verdict per route."""
        if self.mode == "legacy":
            return "ready for shadow"
        if self.ready:
            return "ready"
        return f"not ready ({len(self.blockers)})"

    @property
    def blockers(self) -> tuple[str, ...]:
        """Each unmet condition, with its measured value and threshold."""
        return tuple(c.describe() for c in self.conditions if not c.passed)

    def to_json(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "ready": self.ready,
            "mode": self.mode,
            "next_step": self.next_step,
            "ready_for_next": self.ready_for_next,
            "window_seconds": self.window,
            "blockers": list(self.blockers),
            "conditions": [c.to_json() for c in self.conditions],
            "stats": self.stats.to_json(),
        }


_NEXT = {"legacy": "shadow", "shadow": "canary or new", "canary": "new"}


def _pct(value: float) -> str:
    return f"{value * 100:.2f}%"


def _span(seconds: float) -> str:
    if seconds >= 86400 and seconds % 86400 == 0:
        return f"{seconds / 86400:g}d"
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    if seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"


def _ago(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 60:.0f} minutes"


def assess(
    route: str,
    stats: WindowStats,
    evidence: Mapping[str, Evidence | None],
    thresholds: ReadinessThresholds,
    now: datetime | None = None,
) -> Readiness:
    """The readiness verdict of ``route``.

    ``evidence`` maps a kind (``parity``, ``load``, ``data``) to its newest stored result,
    or None. A kind never recorded is skipped unless ``thresholds.require`` names it.
    With ``min_compared: 0`` a route without traffic passes the traffic conditions.
    """
    t = thresholds
    now = now or datetime.now(UTC)
    out = [
        _sample(stats, t),
        _parity(stats, t),
        _errors(stats, t),
        _latency(stats, t),
        *_evidence(evidence, t, now),
    ]
    return Readiness(route=route, conditions=tuple(out), stats=stats, window=t.window)


def _sample(stats: WindowStats, t: ReadinessThresholds) -> Condition:
    return Condition(
        "sample",
        stats.compared >= t.min_compared,
        f"{stats.compared} compared requests in the last {_span(t.window)}",
        f">= {t.min_compared}",
    )


def _parity(stats: WindowStats, t: ReadinessThresholds) -> Condition:
    parity = stats.parity
    return Condition(
        "parity",
        parity >= t.min_parity if parity is not None else True,  # sample says "none"
        f"{_pct(parity)} of {stats.compared} compared requests agree"
        if parity is not None
        else "nothing compared yet",
        f">= {_pct(t.min_parity)}",
    )


def _errors(stats: WindowStats, t: ReadinessThresholds) -> Condition:
    new_rate, legacy_rate = stats.new_error_rate, stats.legacy_error_rate
    needs = f"new <= legacy + {_pct(t.max_error_increase)}"
    if new_rate is None:
        # In shadow mode new answers no client: its failures are status mismatches, which
        # parity judges, and how many were compared is the sample's condition. Said once.
        return Condition(
            "errors",
            True,
            "new answered no client yet; its failures count as mismatches in parity"
            if stats.compared
            else "no request answered by new yet",
            needs,
        )
    base = legacy_rate or 0.0
    return Condition(
        "errors",
        new_rate - base <= t.max_error_increase + 1e-12,
        f"new fails {_pct(new_rate)} of {stats.new_requests}, legacy {_pct(base)}",
        needs,
    )


def _latency(stats: WindowStats, t: ReadinessThresholds) -> Condition:
    ratio = stats.p99_ratio
    if ratio is None:
        # Unmeasured only when nothing was compared: the sample condition says so already.
        unmeasured_ok = t.min_compared <= 0 or stats.compared < t.min_compared
        return Condition("latency", unmeasured_ok, "p99 latency not measured on both sides", "both")
    return Condition(
        "latency",
        ratio <= t.max_p99_ratio + 1e-12,
        f"p99 new {stats.new_p99_ms:.1f} ms / legacy {stats.legacy_p99_ms:.1f} ms = {ratio:.2f}x",
        f"<= {t.max_p99_ratio:g}x",
    )


def _evidence(
    evidence: Mapping[str, Evidence | None], t: ReadinessThresholds, now: datetime
) -> list[Condition]:
    out = []
    for kind, name in EVIDENCE_KINDS.items():
        result = evidence.get(kind)
        if result is None:
            if kind in t.require:
                out.append(Condition(name, False, "none recorded", "a passing result"))
            continue
        age = (now - result.at).total_seconds()
        when = f"{result.at:%Y-%m-%d %H:%M} UTC"
        label = f" ({result.subject})" if result.subject else ""
        if not result.passed:
            out.append(Condition(name, False, f"failed at {when}{label}", "a passing result"))
        elif t.evidence_max_age is not None and age > t.evidence_max_age:
            out.append(
                Condition(
                    name,
                    False,
                    f"passed at {when}{label}, {_ago(age)} ago",
                    f"a result younger than {_span(t.evidence_max_age)}",
                )
            )
        else:
            out.append(Condition(name, True, f"passed at {when}{label}", "a passing result"))
    return out
