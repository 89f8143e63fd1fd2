"""Each readiness condition, on plain values (no store, no server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from strangler.config import ReadinessThresholds
from strangler.rollout import WindowStats, assess
from strangler.store import Evidence

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
T = ReadinessThresholds(min_compared=100, min_parity=0.99, max_error_increase=0.01)

GOOD = WindowStats(
    compared=1000,
    matched=990,
    noise=8,
    mismatched=2,
    legacy_requests=1000,
    legacy_errors=3,
    new_requests=1000,
    new_errors=5,
    legacy_p99_ms=100.0,
    new_p99_ms=120.0,
)


def _stats(**changes: object) -> WindowStats:
    values = {f: getattr(GOOD, f) for f in GOOD.__slots__}
    values.update(changes)
    return WindowStats(**values)


def _evidence(kind: str, passed: bool, age: timedelta, subject: str = "run-7") -> Evidence:
    return Evidence(1, kind, "GET /a", subject, NOW - age, passed, {})


def test_good_evidence_is_ready() -> None:
    verdict = assess("GET /a", GOOD, {}, T, now=NOW)
    assert verdict.ready
    assert verdict.blockers == ()
    assert [c.name for c in verdict.conditions] == ["sample", "parity", "errors", "latency"]


def test_too_few_compared_requests_blocks_with_count_and_minimum() -> None:
    verdict = assess("GET /a", _stats(compared=40, mismatched=0), {}, T, now=NOW)
    assert not verdict.ready
    assert verdict.blockers == ("sample: 40 compared requests in the last 1h (needs >= 100)",)


def test_learned_noise_does_not_count_against_parity() -> None:
    noisy = _stats(compared=1000, matched=500, noise=495, mismatched=5)
    assert assess("GET /a", noisy, {}, T, now=NOW).ready


def test_mismatches_block_with_measured_rate_and_threshold() -> None:
    verdict = assess("GET /a", _stats(mismatched=25), {}, T, now=NOW)
    assert verdict.blockers == ("parity: 97.50% of 1000 compared requests agree (needs >= 99.00%)",)


def test_new_failing_more_than_legacy_blocks() -> None:
    verdict = assess("GET /a", _stats(new_errors=30), {}, T, now=NOW)
    assert verdict.blockers == (
        "errors: new fails 3.00% of 1000, legacy 0.30% (needs new <= legacy + 1.00%)",
    )


def test_new_failing_as_much_as_a_failing_legacy_passes() -> None:
    assert assess("GET /a", _stats(legacy_errors=40, new_errors=45), {}, T, now=NOW).ready


def test_slow_new_blocks_on_p99_ratio() -> None:
    verdict = assess("GET /a", _stats(new_p99_ms=250.0), {}, T, now=NOW)
    assert verdict.blockers == (
        "latency: p99 new 250.0 ms / legacy 100.0 ms = 2.50x (needs <= 1.5x)",
    )


def test_no_traffic_at_all_is_said_once_by_the_sample_condition() -> None:
    verdict = assess("GET /a", WindowStats(), {}, T, now=NOW)
    assert verdict.blockers == ("sample: 0 compared requests in the last 1h (needs >= 100)",)
    shadowed = WindowStats(compared=40, matched=40, legacy_p99_ms=5.0, new_p99_ms=5.0)
    names = [b.split(":")[0] for b in assess("GET /a", shadowed, {}, T, now=NOW).blockers]
    assert names == ["sample"]  # not again as "errors" (new answered no client in shadow)


def test_min_compared_zero_lets_a_route_without_traffic_through() -> None:
    thresholds = T.model_copy(update={"min_compared": 0})
    assert assess("GET /a", WindowStats(), {}, thresholds, now=NOW).ready


@pytest.mark.parametrize(
    ("kind", "name"),
    [("parity", "parity tests"), ("load", "load test"), ("data", "data verification")],
)
def test_failed_evidence_blocks(kind: str, name: str) -> None:
    ev = {kind: _evidence(kind, False, timedelta(hours=1))}
    verdict = assess("GET /a", GOOD, ev, T, now=NOW)
    assert verdict.blockers == (
        f"{name}: failed at 2026-01-10 11:00 UTC (run-7) (needs a passing result)",
    )


def test_passing_evidence_is_listed_and_ready() -> None:
    ev = {"load": _evidence("load", True, timedelta(hours=3))}
    verdict = assess("GET /a", GOOD, ev, T, now=NOW)
    assert verdict.ready
    assert verdict.conditions[-1].measured == "passed at 2026-01-10 09:00 UTC (run-7)"


def test_stale_evidence_blocks() -> None:
    ev = {"data": _evidence("data", True, timedelta(days=9))}
    verdict = assess("GET /a", GOOD, ev, T, now=NOW)
    assert verdict.blockers == (
        "data verification: passed at 2026-01-01 12:00 UTC (run-7), 9.0 days ago"
        " (needs a result younger than 7d)",
    )


def test_required_evidence_that_was_never_recorded_blocks() -> None:
    thresholds = T.model_copy(update={"require": ("load",)})
    verdict = assess("GET /a", GOOD, {"load": None}, thresholds, now=NOW)
    assert verdict.blockers == ("load test: none recorded (needs a passing result)",)


def test_json_carries_verdict_blockers_and_measures() -> None:
    data = assess("GET /a", _stats(mismatched=25), {}, T, now=NOW).to_json()
    assert data["ready"] is False
    assert data["stats"]["parity"] == pytest.approx(0.975)
    assert data["conditions"][1] == {
        "name": "parity",
        "passed": False,
        "measured": "97.50% of 1000 compared requests agree",
        "threshold": ">= 99.00%",
    }
