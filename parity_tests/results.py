"""What a parity run found, per exchange and per route (pure values, no I/O).

The plugin records one :class:`EntryResult` per corpus entry it ran; :func:`summarise`
folds them into one :class:`RouteSummary` per route, which the terminal summary, the
Markdown and HTML reports and the store's evidence all read::

    >>> from shadow.exchange import CapturedRequest
    >>> r = EntryResult("c::GET /a::1", "GET /a", CapturedRequest("GET", "/a"), "match")
    >>> [s.pass_rate for s in summarise([r], {"GET /a": RoutePolicy("new", gates=True)})]
    [1.0]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from shadow.exchange import CapturedRequest, CapturedResponse
from shadow.verdict import Difference, Severity, Verdict

__all__ = [
    "GATING_MODES",
    "EntryOutcome",
    "EntryResult",
    "FieldCount",
    "RoutePolicy",
    "RouteSummary",
    "policy_for",
    "summarise",
]

EntryOutcome = Literal["match", "noise", "mismatch", "not_compared", "skipped", "error"]

#: Modes in which new answers real clients: a mismatch there fails the build.
GATING_MODES = frozenset({"canary", "new", "retired"})


@dataclass(frozen=True, slots=True)
class RoutePolicy:
    """A route's effective mode (live from the store, else the config's) and whether its
    mismatches fail the build (``gates``)."""

    mode: str | None
    gates: bool
    why: str = ""


def policy_for(
    mode: str | None,
    *,
    gating: bool = False,
    strict: bool = False,
    origin: str = "config",
) -> RoutePolicy:
    """Whether a mismatch on a route in ``mode`` fails the build (``mode`` None: no config
    says, so it does). ``origin`` says where the mode came from (``live``, ``config``).

    >>> policy_for("shadow").gates, policy_for("shadow", strict=True).gates
    (False, True)
    >>> policy_for("canary").why, policy_for(None).gates
    ('mode canary (config)', True)
    """
    if mode is None:
        return RoutePolicy(None, True, "no config: every route gates")
    gates = mode in GATING_MODES or gating or strict
    why = f"mode {mode} ({origin})"
    if gating:
        why += ", marked gating"
    elif strict and mode not in GATING_MODES:
        why += ", --parity-strict"
    return RoutePolicy(mode, gates, why)


@dataclass(frozen=True, slots=True)
class EntryResult:
    """One corpus entry's outcome. ``legacy_source`` is ``recorded`` when the legacy answer
    came from the corpus (writes replayed against a sandbox) rather than a replay."""

    nodeid: str
    route: str
    request: CapturedRequest
    outcome: EntryOutcome
    verdict: Verdict | None = None
    legacy: CapturedResponse | None = None
    new: CapturedResponse | None = None
    reason: str = ""
    legacy_source: Literal["replayed", "recorded"] = "replayed"
    new_side: str = "new"

    @property
    def target(self) -> str:
        return self.request.path + (f"?{self.request.query}" if self.request.query else "")


@dataclass(frozen=True, slots=True)
class FieldCount:
    """How often one (generalised) field differed on a route, with a first example."""

    field: str
    kind: str
    severity: Severity
    count: int
    example: Difference


@dataclass(frozen=True, slots=True)
class RouteSummary:
    """One route's results in a run."""

    route: str
    policy: RoutePolicy
    total: int
    matched: int
    noise: int
    mismatched: int
    skipped: int
    errors: int
    not_compared: int
    top_fields: tuple[FieldCount, ...] = ()
    worst: Severity | None = None
    entries: tuple[EntryResult, ...] = field(default=(), repr=False)

    @property
    def compared(self) -> int:
        return self.matched + self.noise + self.mismatched + self.errors

    @property
    def pass_rate(self) -> float | None:
        """Share of compared exchanges that matched (noise counts as a match)."""
        return (self.matched + self.noise) / self.compared if self.compared else None

    @property
    def failed(self) -> bool:
        return self.mismatched > 0 or self.errors > 0

    @property
    def blocks_flip(self) -> bool:
        """A route with any mismatch (in any mode) is not ready for its next flip."""
        return self.failed

    @property
    def fails_build(self) -> bool:
        return self.failed and self.policy.gates

    def to_json(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "mode": self.policy.mode,
            "gates": self.policy.gates,
            "total": self.total,
            "compared": self.compared,
            "matched": self.matched,
            "noise": self.noise,
            "mismatched": self.mismatched,
            "errors": self.errors,
            "skipped": self.skipped,
            "not_compared": self.not_compared,
            "pass_rate": self.pass_rate,
            "worst_severity": self.worst.label if self.worst else None,
            "top_fields": [
                {"field": f.field, "kind": f.kind, "severity": f.severity.label, "count": f.count}
                for f in self.top_fields
            ],
        }


def summarise(
    results: Iterable[EntryResult],
    policies: Mapping[str, RoutePolicy],
    *,
    top: int = 5,
    default: RoutePolicy | None = None,
) -> list[RouteSummary]:
    """One summary per route (sorted by route key); ``policies`` gives each route's mode."""
    by_route: dict[str, list[EntryResult]] = {}
    for r in results:
        by_route.setdefault(r.route, []).append(r)
    fallback = default or policy_for(None)
    out = []
    for route in sorted(by_route):
        entries = by_route[route]
        counts = Counter(e.outcome for e in entries)
        fields: Counter[tuple[str, str]] = Counter()
        examples: dict[tuple[str, str], Difference] = {}
        for e in entries:
            if e.outcome != "mismatch" or e.verdict is None:
                continue
            for d in e.verdict.differences:
                key = (d.field or d.path, d.kind)
                fields[key] += 1
                examples.setdefault(key, d)
        ranked = sorted(fields.items(), key=lambda kv: (-examples[kv[0]].severity, -kv[1], kv[0]))
        top_fields = tuple(
            FieldCount(name, kind, examples[(name, kind)].severity, n, examples[(name, kind)])
            for (name, kind), n in ranked[:top]
        )
        worst = max((f.severity for f in top_fields), default=None)
        out.append(
            RouteSummary(
                route=route,
                policy=policies.get(route, fallback),
                total=len(entries),
                matched=counts["match"],
                noise=counts["noise"],
                mismatched=counts["mismatch"],
                skipped=counts["skipped"],
                errors=counts["error"],
                not_compared=counts["not_compared"],
                top_fields=top_fields,
                worst=worst,
                entries=tuple(entries),
            )
        )
    return out
