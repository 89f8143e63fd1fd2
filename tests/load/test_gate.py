"""The load gate on measured figures (pure: no servers, latencies drawn from known laws)."""

from __future__ import annotations

import numpy as np

from load.gate import judge, judge_route
from load.results import RouteResult, TargetResult
from strangler.config import LoadSettings

SETTINGS = LoadSettings(min_samples=100)


def route(median_ms: float, n: int = 800, failures: int = 0, seed: int = 0) -> RouteResult:
    rng = np.random.default_rng(seed)
    samples = tuple(float(x) for x in rng.lognormal(np.log(median_ms), 0.2, n))
    ordered = sorted(samples)
    return RouteResult(
        route="GET /a",
        requests=n + failures,
        failures=failures,
        rps=100.0,
        p50=ordered[len(ordered) // 2] if ordered else None,
        p95=ordered[int(len(ordered) * 0.95)] if ordered else None,
        p99=ordered[int(len(ordered) * 0.99)] if ordered else None,
        samples=samples,
    )


def test_fast_new_against_slow_legacy_passes() -> None:
    verdict = judge_route("GET /a", route(25.0, seed=1), route(2.0, seed=2), SETTINGS)
    assert verdict.passed, verdict.blockers
    assert verdict.figures["p50_ratio"] < 0.2
    assert verdict.figures["p_value"] > 0.5


def test_slow_new_fails_with_the_measured_figures() -> None:
    verdict = judge_route("GET /a", route(10.0, seed=1), route(30.0, seed=2), SETTINGS)
    assert not verdict.passed
    (blocker,) = verdict.blockers
    assert blocker.startswith("latency: new p50 ")
    assert "tolerance x1.10" in blocker
    assert "Mann-Whitney U p=" in blocker
    assert 2.5 < verdict.figures["p50_ratio"] < 3.5


def test_failing_new_fails_on_its_failure_rate() -> None:
    legacy, new = route(10.0, seed=1), route(10.0, n=700, failures=100, seed=2)
    verdict = judge_route("GET /a", legacy, new, SETTINGS)
    assert not verdict.passed
    assert verdict.blockers[0] == (
        "failures: new 12.50% vs legacy 0.00% (+12.50 pts, tolerance +1.00 pts)"
    )


def test_failures_within_tolerance_pass() -> None:
    legacy, new = route(10.0, n=1000, seed=1), route(10.0, n=995, failures=5, seed=2)
    assert judge_route("GET /a", legacy, new, SETTINGS).passed


def test_too_few_samples_fail_the_route() -> None:
    verdict = judge_route("GET /a", route(10.0, n=40, seed=1), route(5.0, seed=2), SETTINGS)
    assert not verdict.passed
    assert "too few latency samples: legacy 40, new 800 (minimum 100 each" in verdict.blockers[0]


def test_a_significant_slowdown_within_tolerance_passes_with_a_note() -> None:
    legacy, new = route(20.0, n=4000, seed=1), route(21.0, n=4000, seed=2)
    verdict = judge_route("GET /a", legacy, new, SETTINGS)
    assert verdict.passed, verdict.blockers
    assert verdict.figures["p_value"] < SETTINGS.alpha
    assert "within tolerance" in verdict.notes[0]


def test_sub_millisecond_jitter_is_not_a_regression() -> None:
    legacy, new = route(0.3, seed=1), route(0.6, seed=2)
    assert judge_route("GET /a", legacy, new, SETTINGS).passed
    strict = LoadSettings(min_samples=100, latency_floor_ms=0.0)
    assert not judge_route("GET /a", legacy, new, strict).passed


def test_a_route_new_never_answered_fails() -> None:
    legacy = TargetResult("legacy", "http://l", 2.0, 5, (route(5.0),))
    new = TargetResult("new", "http://n", 2.0, 5, ())
    gate = judge(legacy, new, SETTINGS)
    assert not gate.passed
    assert gate.verdicts[0].blockers == ("no requests reached new: nothing to compare",)


def test_the_gate_passes_only_when_every_route_passes() -> None:
    fast = TargetResult("legacy", "http://l", 2.0, 5, (route(5.0, seed=1),))
    same = TargetResult("new", "http://n", 2.0, 5, (route(5.0, seed=2),))
    assert judge(fast, same, SETTINGS).passed
    assert not judge(fast, TargetResult("new", "http://n", 2.0, 5, ()), SETTINGS).passed


def _drifting(factor: float, seed: int, blocks: int = 8) -> tuple[RouteResult, RouteResult]:
    """Legacy and new run in alternating blocks while the machine's load swings 1x-6x:
    every block's latencies are scaled by the load of its moment, new's by ``factor`` more
    (with the ordinary jitter of two processes)."""
    rng = np.random.default_rng(seed)
    sides: list[list[float]] = [[], []]
    figures: list[list[tuple[float, float, int]]] = [[], []]
    for b in range(blocks):
        load = 1 + 5 * (0.5 + 0.5 * np.sin(b))  # the same wave for both sides
        for side, scale in ((0, 1.0), (1, factor * rng.uniform(0.93, 1.07))):
            drawn = sorted(rng.lognormal(np.log(2.0 * load * scale), 0.3, 120))
            sides[side] += drawn
            figures[side].append((drawn[60], drawn[114], len(drawn)))
    out = []
    for side in (0, 1):
        ordered = sorted(sides[side])
        out.append(
            RouteResult(
                "GET /a", len(ordered), 0, 100.0, ordered[len(ordered) // 2],
                ordered[int(len(ordered) * 0.95)], ordered[-1],
                samples=tuple(ordered), blocks=tuple(figures[side]),
            )
        )  # fmt: skip
    return out[0], out[1]


def test_interleaved_blocks_pass_identical_sides_whatever_the_load_does() -> None:
    passed = 0
    for seed in range(20):
        legacy, new = _drifting(1.0, seed)
        verdict = judge_route("GET /a", legacy, new, SETTINGS)
        passed += verdict.passed
        assert verdict.figures["block_pairs"] == 8
    assert passed == 20


def test_interleaved_blocks_fail_a_30_percent_slowdown_with_the_paired_figures() -> None:
    for seed in range(20):
        legacy, new = _drifting(1.3, seed)
        verdict = judge_route("GET /a", legacy, new, SETTINGS)
        assert not verdict.passed, seed
        assert "interleaved block pairs" in verdict.blockers[0]
        assert "Wilcoxon" in verdict.blockers[0]
        assert 1.2 < verdict.figures["paired_p50_ratio"] < 1.4
