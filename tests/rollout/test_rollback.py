"""The rollback decision over a sliding window of counter snapshots (pure)."""

from __future__ import annotations

import math

import pytest

from strangler.config import RollbackSettings
from strangler.rollout import RouteCounters, SideCounters, SlidingWindow, judge, p99_from_buckets

S = RollbackSettings(window=60, min_requests=20, max_error_rate=0.05, max_mismatch_rate=0.05)


def _hist(fast: float, slow: float, slow_le: float) -> tuple[tuple[float, float], ...]:
    """Cumulative buckets with ``fast`` answers under 10 ms and ``slow`` under ``slow_le``."""
    bounds = sorted({0.01, slow_le, math.inf})
    return tuple((le, fast + (slow if le >= slow_le else 0.0)) for le in bounds)


def test_error_rate_over_threshold_trips_with_numbers() -> None:
    delta = RouteCounters(new=SideCounters(requests=40, errors=4))
    assert judge(delta, S) == (
        "new's error rate 10.00% of 40 requests in the last 60s (limit 5.00%)",
    )


def test_error_rate_under_threshold_is_healthy() -> None:
    assert judge(RouteCounters(new=SideCounters(requests=100, errors=5)), S) == ()


def test_too_small_a_sample_never_trips() -> None:
    assert judge(RouteCounters(new=SideCounters(requests=19, errors=19)), S) == ()


def test_slow_new_against_legacy_trips() -> None:
    delta = RouteCounters(
        new=SideCounters(requests=100, buckets=_hist(50, 50, 1.0)),
        legacy=SideCounters(requests=100, buckets=_hist(100, 0, 1.0)),
    )
    assert judge(delta, S) == (
        "new's p99 latency 980 ms is 99.0x legacy's 10 ms over the last 60s (limit 3x)",
    )


def test_latency_is_not_judged_without_a_legacy_sample() -> None:
    delta = RouteCounters(new=SideCounters(requests=100, buckets=_hist(0, 100, 5.0)))
    assert judge(delta, S) == ()


def test_latency_is_not_judged_on_a_few_slow_answers() -> None:
    delta = RouteCounters(
        new=SideCounters(requests=50, buckets=_hist(25, 25, 1.0)),
        legacy=SideCounters(requests=50, buckets=_hist(50, 0, 1.0)),
    )
    assert judge(delta, S) == ()


def test_mismatch_rate_trips() -> None:
    delta = RouteCounters(compared=50, mismatched=10)
    assert judge(delta, S) == (
        "20.00% of 50 compared requests mismatch in the last 60s (limit 5.00%)",
    )


def test_window_forgets_what_is_older_than_its_span() -> None:
    win = SlidingWindow(span=60)
    win.add(0, {"r": RouteCounters(new=SideCounters(requests=0, errors=0))})
    win.add(10, {"r": RouteCounters(new=SideCounters(requests=100, errors=100))})
    win.add(100, {"r": RouteCounters(new=SideCounters(requests=200, errors=100))})
    assert win.delta("r").new.errors == 0  # the failures happened more than 60 s ago
    assert win.delta("r").new.requests == 100


def test_restart_ignores_failures_before_a_flip() -> None:
    win = SlidingWindow(span=60)
    win.add(0, {"r": RouteCounters()})
    win.add(1, {"r": RouteCounters(new=SideCounters(requests=50, errors=50))})
    win.restart("r")
    win.add(2, {"r": RouteCounters(new=SideCounters(requests=60, errors=50))})
    assert win.delta("r") == RouteCounters(new=SideCounters(requests=10, errors=0))


def test_counter_reset_does_not_go_negative() -> None:
    win = SlidingWindow(span=60)
    win.add(0, {"r": RouteCounters(new=SideCounters(requests=500, errors=5))})
    win.add(1, {"r": RouteCounters(new=SideCounters(requests=3, errors=0))})
    assert win.delta("r").new.requests == 0


def test_p99_interpolates_inside_the_bucket() -> None:
    assert p99_from_buckets([(0.1, 90.0), (1.0, 100.0), (math.inf, 100.0)]) == pytest.approx(0.91)
    assert p99_from_buckets([(0.1, 0.0), (math.inf, 0.0)]) is None


def test_read_counters_takes_sides_fallbacks_and_shadow_verdicts_from_the_registry() -> None:
    from prometheus_client import Counter

    from strangler.metrics import ProxyMetrics
    from strangler.rollback_monitor import read_counters

    m = ProxyMetrics()
    verdicts = Counter(
        "strangler_shadow_verdicts", "v", ["route", "outcome", "severity"], registry=m.registry
    )
    m.request("r", "canary", "new", 200, 0.01)
    m.request("r", "canary", "new", 502, 0.01)
    m.fallback("r", "status_5xx")
    m.request("r", "canary", "legacy", 200, 0.01)  # the fallback's answer
    m.upstream_error("r", "new", "upstream_connect_error")
    m.dropped("r", "in_flight_limit")
    verdicts.labels("r", "match", "").inc(7)
    verdicts.labels("r", "mismatch", "value").inc(3)
    verdicts.labels("r", "not_compared", "").inc(5)
    c = read_counters(m.registry)["r"]
    assert (c.new.served, c.new.requests, c.new.errors) == (2, 4, 3)
    assert (c.legacy.served, c.legacy.requests, c.legacy.errors) == (1, 1, 0)
    assert (c.compared, c.mismatched) == (10, 3)
    assert dict(c.new.buckets)[math.inf] == 2
