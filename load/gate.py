"""The cutover load gate: does new hold the load at least as well as legacy? (pure, no I/O)

Per route, the same scenario was run against legacy and new, interleaved in short
alternating blocks (so load drift on the machine hits both alike). New passes when

- its failure rate is not higher than legacy's by more than ``failure_tolerance``
  (absolute: 0.01 = one percentage point), and
- its latency is not worse. With at least six interleaved blocks per side (the default
  runs), each new block is paired with the legacy block run next to it, so the machine's
  drift is in both and cancels in their ratio: new fails when a one-sided Wilcoxon
  signed-rank test on the per-pair log ratios says its p50 (or p95) exceeds legacy's
  (``p < alpha``) and the median pair ratio is beyond the tolerance, by more than
  ``latency_floor_ms``. Otherwise (one side after the other, or short runs): a one-sided
  Mann-Whitney U test ("new slower than legacy") on the sampled latencies of successful
  requests, as Kayenta judges canaries. New fails only
  when the test is significant (``p < alpha``) *and* the effect is beyond tolerance: its
  median more than ``latency_tolerance`` above legacy's, or its p95 more than
  ``tail_tolerance`` above, and by more than ``latency_floor_ms`` (sub-millisecond
  jitter on a loaded machine is not a regression). A certain but tiny slowdown passes.
- Too little data fails: fewer than ``min_samples`` latencies on either side.

    >>> from strangler.config import LoadSettings
    >>> verdict = judge_route("GET /a", legacy_result, new_result, LoadSettings())  # doctest: +SKIP
    >>> verdict.passed, verdict.blockers                                           # doctest: +SKIP
    (False, ('latency: new p50 31.20 ms vs legacy 1.10 ms (x28.4, tolerance x1.10) ...',))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from load.results import RouteResult, TargetResult
from strangler.config import LoadSettings

__all__ = ["GateResult", "RouteVerdict", "judge", "judge_route"]


@dataclass(frozen=True, slots=True)
class RouteVerdict:
    """The gate's verdict on one route, with the figures it was based on."""

    route: str
    passed: bool
    blockers: tuple[str, ...]
    notes: tuple[str, ...]
    figures: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        """JSON-ready: what is stored as evidence and printed by ``--json``."""
        return {
            "route": self.route,
            "passed": self.passed,
            "blockers": list(self.blockers),
            "notes": list(self.notes),
            **self.figures,
        }


@dataclass(frozen=True, slots=True)
class GateResult:
    """Every route's verdict; the gate passes when every route passes."""

    verdicts: tuple[RouteVerdict, ...]

    @property
    def passed(self) -> bool:
        return bool(self.verdicts) and all(v.passed for v in self.verdicts)

    def verdict(self, route: str) -> RouteVerdict | None:
        return next((v for v in self.verdicts if v.route == route), None)


def judge(legacy: TargetResult, new: TargetResult, settings: LoadSettings) -> GateResult:
    """Judge every route seen against either side."""
    names = list(dict.fromkeys([r.route for r in legacy.routes] + [r.route for r in new.routes]))
    return GateResult(tuple(judge_route(n, legacy.route(n), new.route(n), settings) for n in names))


def judge_route(
    route: str,
    legacy: RouteResult | None,
    new: RouteResult | None,
    settings: LoadSettings,
) -> RouteVerdict:
    """The verdict on one route (see the module docstring for the rules)."""
    blockers: list[str] = []
    notes: list[str] = []
    if legacy is None or new is None or not legacy.requests or not new.requests:
        side = "legacy" if legacy is None or not legacy.requests else "new"
        blockers.append(f"no requests reached {side}: nothing to compare")
        return RouteVerdict(route, False, tuple(blockers), (), _figures(legacy, new))

    figures = _figures(legacy, new)
    worse = new.failure_rate - legacy.failure_rate
    if worse > settings.failure_tolerance:
        blockers.append(
            f"failures: new {new.failure_rate:.2%} vs legacy {legacy.failure_rate:.2%} "
            f"(+{worse * 100:.2f} pts, tolerance +{settings.failure_tolerance * 100:.2f} pts)"
        )

    n_legacy, n_new = len(legacy.samples), len(new.samples)
    if min(n_legacy, n_new) < settings.min_samples and blockers and n_new == 0:
        notes.append("latency not judged: no request to new succeeded")
        return RouteVerdict(route, False, tuple(blockers), tuple(notes), figures)
    if min(n_legacy, n_new) < settings.min_samples:
        blockers.append(
            f"too few latency samples: legacy {n_legacy}, new {n_new} "
            f"(minimum {settings.min_samples} each; run longer or with more users)"
        )
        return RouteVerdict(route, False, tuple(blockers), tuple(notes), figures)

    found, said = _pooled(legacy, new, settings)  # its figures describe every run
    figures.update(found)
    paired = _paired_blocks(legacy, new, settings)
    if paired is not None:  # drift cancels in pairs: the paired judgement decides
        found, said = paired
        figures.update(found)
        figures["p_value"] = min(found["paired_p50_p_value"], found["paired_p95_p_value"])
    blockers.extend(b for b in said if b.startswith("latency"))
    notes.extend(n for n in said if not n.startswith("latency"))
    return RouteVerdict(route, not blockers, tuple(blockers), tuple(notes), figures)


def _pooled(
    legacy: RouteResult, new: RouteResult, settings: LoadSettings
) -> tuple[dict[str, Any], list[str]]:
    """Latency judged on all samples together: a one-sided Mann-Whitney U test (for runs
    without enough interleaved blocks). Lines starting with ``latency`` are blockers."""
    from scipy.stats import mannwhitneyu

    old_s = np.asarray(legacy.samples, dtype=float)
    new_s = np.asarray(new.samples, dtype=float)
    p_value = float(mannwhitneyu(new_s, old_s, alternative="greater").pvalue)
    old_p50, new_p50 = float(np.median(old_s)), float(np.median(new_s))
    old_p95, new_p95 = float(np.percentile(old_s, 95)), float(np.percentile(new_s, 95))
    r50, r95 = _ratio(new_p50, old_p50), _ratio(new_p95, old_p95)
    figures = {
        "p_value": p_value,
        "p50_ratio": _finite(r50),
        "p95_ratio": _finite(r95),
        "legacy_sample_p50": round(old_p50, 3),
        "new_sample_p50": round(new_p50, 3),
        "legacy_sample_p95": round(old_p95, 3),
        "new_sample_p95": round(new_p95, 3),
    }
    significant = p_value < settings.alpha
    too_slow = []
    floor = settings.latency_floor_ms
    if r50 > 1 + settings.latency_tolerance and new_p50 - old_p50 > floor:
        too_slow.append(
            f"p50 {new_p50:.2f} ms vs legacy {old_p50:.2f} ms "
            f"(x{_show(r50)}, tolerance x{1 + settings.latency_tolerance:.2f})"
        )
    if r95 > 1 + settings.tail_tolerance and new_p95 - old_p95 > floor:
        too_slow.append(
            f"p95 {new_p95:.2f} ms vs legacy {old_p95:.2f} ms "
            f"(x{_show(r95)}, tolerance x{1 + settings.tail_tolerance:.2f})"
        )
    said = []
    if significant and too_slow:
        said.append(
            "latency: new "
            + "; ".join(too_slow)
            + f"; Mann-Whitney U p={p_value:.2g} < {settings.alpha:g} (new slower)"
        )
    elif significant:
        said.append(
            f"new is measurably slower (Mann-Whitney U p={p_value:.2g}) but within tolerance "
            f"(p50 x{_show(r50)}, p95 x{_show(r95)})"
        )
    elif too_slow:
        said.append(
            "new looks slower ("
            + "; ".join(too_slow)
            + f") but not significantly (Mann-Whitney U p={p_value:.2g} >= {settings.alpha:g})"
        )
    return figures, said


MIN_BLOCK_PAIRS = 6
"""Interleaved blocks needed per side for the paired judgement (else Mann-Whitney alone)."""


def _paired_blocks(
    legacy: RouteResult, new: RouteResult, settings: LoadSettings
) -> tuple[dict[str, Any], list[str]] | None:
    """Judge latency on the interleaved blocks, each new block against the legacy block
    run next to it: the machine's drift is in both, so it cancels in their ratio.

    New fails when a one-sided Wilcoxon signed-rank test on the per-pair log ratios says
    its p50 (or p95) is above legacy's (``p < alpha``) *and* the median pair ratio is beyond
    the tolerance, by more than ``latency_floor_ms``. Identical services then pass whatever
    the load does, and a real slowdown beyond tolerance fails even on a noisy machine.
    """
    pairs = [
        (old, fresh)
        for old, fresh in zip(legacy.blocks, new.blocks, strict=False)
        if old[2] >= 5 and fresh[2] >= 5
    ]
    if len(pairs) < MIN_BLOCK_PAIRS:
        return None
    from scipy.stats import wilcoxon

    figures: dict[str, Any] = {"block_pairs": len(pairs)}
    said: list[str] = []
    checks = (("p50", 0, settings.latency_tolerance), ("p95", 1, settings.tail_tolerance))
    for name, i, tolerance in checks:
        logs = np.log([max(f[i], 1e-3) / max(o[i], 1e-3) for o, f in pairs])
        gap = float(np.median([f[i] - o[i] for o, f in pairs]))
        ratio = float(np.exp(np.median(logs)))
        p_value = 1.0 if not np.any(logs) else float(wilcoxon(logs, alternative="greater").pvalue)
        figures[f"paired_{name}_ratio"] = round(ratio, 4)
        figures[f"paired_{name}_p_value"] = p_value
        line = (
            f"new {name} x{ratio:.2f} of legacy's over {len(pairs)} interleaved block pairs "
            f"(tolerance x{1 + tolerance:.2f})"
        )
        beyond = ratio > 1 + tolerance and gap > settings.latency_floor_ms
        if p_value < settings.alpha and beyond:
            said.append(
                f"latency: {line}; Wilcoxon signed-rank p={p_value:.2g} < {settings.alpha:g} "
                "(new slower)"
            )
        elif beyond:
            said.append(f"{line}, but not significantly (p={p_value:.2g})")
        elif p_value < settings.alpha:
            said.append(f"{line}: measurably slower (p={p_value:.2g}) but within tolerance")
    return figures, said


def _figures(legacy: RouteResult | None, new: RouteResult | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for side, r in (("legacy", legacy), ("new", new)):
        if r is None:
            continue
        out.update(
            {
                f"{side}_requests": r.requests,
                f"{side}_failures": r.failures,
                f"{side}_failure_rate": round(r.failure_rate, 6),
                f"{side}_rps": round(r.rps, 2),
                f"{side}_p50": r.p50,
                f"{side}_p95": r.p95,
                f"{side}_p99": r.p99,
                f"{side}_samples": len(r.samples),
            }
        )
    return out


def _ratio(new: float, old: float) -> float:
    if old > 0:
        return new / old
    return 1.0 if new <= 0 else math.inf


def _finite(value: float) -> float | None:
    return round(value, 4) if math.isfinite(value) else None


def _show(value: float) -> str:
    return f"{value:.2f}" if math.isfinite(value) else "inf"
