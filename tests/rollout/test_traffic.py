"""Readiness and progress read real aggregates from a real SQLite store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from shadow.histogram import LatencyHistogram
from strangler.config import Config, parse_config
from strangler.control import migration_progress, open_store, readiness_of
from strangler.metrics import ProxyMetrics
from strangler.store import Store, upgrade
from strangler.store.aggregates import PendingMinutes
from strangler.store.shadow_models import ShadowMinuteRow
from strangler.store.traffic import served_totals, served_trend, window_stats
from strangler.store.traffic_models import TrafficMinuteRow
from strangler.traffic_recorder import TrafficRecorder

NOW = datetime.now(UTC).replace(second=30, microsecond=0)
A, B = "GET /a", "GET /b"


def _config(url: str) -> Config:
    return parse_config(
        {
            "legacy": "http://127.0.0.1:9",
            "new": "http://127.0.0.1:9",
            "store": url,
            "readiness": {"min_compared": 100, "window": "1h"},
            "routes": [{"route": A, "mode": "shadow"}, {"route": B, "mode": "new"}],
        }
    )


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    s = open_store(_config(sqlite_url))
    yield s
    s.close()


def _hist(*ms: float) -> list[int]:
    h = LatencyHistogram()
    for v in ms:
        h.add(v)
    return h.to_list()


def _shadow(store: Store, route: str, ago: timedelta, compared: int, mismatched: int) -> None:
    with store.session() as s:
        s.add(
            ShadowMinuteRow(
                route=route,
                minute=(NOW - ago).replace(second=0),
                instance=f"p{ago.total_seconds()}",
                requests=compared,
                compared=compared,
                matched=compared - mismatched,
                noise=0,
                mismatch_status=0,
                mismatch_schema=0,
                mismatch_value=mismatched,
                mismatch_added=0,
                noise_samples=0,
                not_compared={},
                dropped={},
                legacy_ms=_hist(*[10.0] * compared),
                new_ms=_hist(*[12.0] * compared),
            )
        )


def _served(store: Store, route: str, side: str, ago: timedelta, served: int, errors: int) -> None:
    with store.session() as s:
        s.add(
            TrafficMinuteRow(
                route=route,
                minute=(NOW - ago).replace(second=0),
                instance="p1",
                side=side,
                served=served,
                requests=served,
                errors=errors,
                latency=_hist(*[8.0] * served),
            )
        )


def test_shadow_minutes_in_the_window_make_a_route_ready(sqlite_url: str, store: Store) -> None:
    _shadow(store, A, timedelta(minutes=5), 80, 0)
    _shadow(store, A, timedelta(minutes=20), 80, 1)
    _shadow(store, A, timedelta(hours=3), 500, 500)  # outside the 1 h window
    stats = window_stats(store, NOW - timedelta(hours=1), NOW)[A]
    assert (stats.compared, stats.mismatched) == (160, 1)
    assert stats.legacy_p99_ms is not None
    assert stats.new_p99_ms is not None
    assert stats.new_p99_ms > stats.legacy_p99_ms
    verdict = readiness_of(_config(sqlite_url), store, [A], now=NOW)[A]
    assert verdict.ready, verdict.blockers
    errors = next(c for c in verdict.conditions if c.name == "errors")
    assert errors.measured.startswith("new answered no client yet")


def test_served_errors_of_new_block_readiness(sqlite_url: str, store: Store) -> None:
    _shadow(store, A, timedelta(minutes=5), 200, 0)
    _served(store, A, "legacy", timedelta(minutes=5), 900, 1)
    _served(store, A, "new", timedelta(minutes=5), 100, 20)
    verdict = readiness_of(_config(sqlite_url), store, [A], now=NOW)[A]
    assert verdict.blockers == (
        "errors: new fails 20.00% of 100, legacy 0.11% (needs new <= legacy + 1.00%)",
    )


def test_the_trend_of_a_young_migration_is_in_minutes_from_its_first_record(
    sqlite_url: str, store: Store
) -> None:
    for ago in (20, 12, 3):
        _served(store, A, "legacy", timedelta(minutes=ago), 100, 0)
    _served(store, B, "new", timedelta(minutes=3), 50, 0)
    trend = served_trend(store, NOW - timedelta(days=14), NOW)
    assert [(p.legacy, p.new) for p in trend] == [(100, 0), (100, 0), (100, 50)]
    # the first point is the first record, not the start of the calendar day
    assert trend[0].start == (NOW - timedelta(minutes=20)).replace(second=0, microsecond=0)
    assert trend[-1].start - trend[0].start == timedelta(minutes=17)


def test_share_served_by_new_and_daily_trend(sqlite_url: str, store: Store) -> None:
    _served(store, A, "legacy", timedelta(minutes=10), 300, 0)
    _served(store, B, "new", timedelta(minutes=10), 100, 0)
    _served(store, A, "legacy", timedelta(days=2), 1000, 0)
    hour = served_totals(store, NOW - timedelta(hours=1), NOW)
    assert (hour.legacy, hour.new, hour.share_new) == (300, 100, 0.25)
    trend = served_trend(store, NOW - timedelta(days=7), NOW)
    assert [(p.legacy, p.new) for p in trend] == [(1000, 0), (300, 100)]
    progress = migration_progress(_config(sqlite_url), store, now=NOW)
    assert (progress.done, progress.total) == (1, 2)
    assert progress.share_new_hour == 0.25
    assert progress.share_new_day == 0.25
    data = progress.to_json()
    assert data["by_mode"] == {"legacy": 0, "shadow": 1, "canary": 0, "new": 1, "retired": 0}
    (pending,) = [r for r in data["routes"] if r["route"] == A]
    assert pending["next_mode"] == "canary"
    assert pending["blockers"][0] == "sample: 0 compared requests in the last 1h (needs >= 100)"


def test_traffic_recorder_writes_what_the_proxy_counted(store: Store) -> None:
    metrics = ProxyMetrics()
    clock = [NOW]
    recorder = TrafficRecorder(store, metrics.registry, instance="test", clock=lambda: clock[0])
    for _ in range(3):
        metrics.request(A, "canary", "new", 200, 0.004)
    metrics.request(A, "canary", "legacy", 200, 0.02)
    metrics.upstream_error(A, "new", "upstream_connect_error")
    metrics.fallback(A, "upstream_connect_error")
    metrics.request(A, "canary", "legacy", 200, 0.02)
    assert recorder.flush()
    metrics.request(A, "canary", "new", 503, 0.3)
    assert recorder.flush()  # adds to the same minute's rows
    with store.session() as s:
        rows = {r.side: r for r in s.query(TrafficMinuteRow).all()}
    assert (rows["new"].served, rows["new"].requests, rows["new"].errors) == (4, 5, 2)
    assert (rows["legacy"].served, rows["legacy"].requests, rows["legacy"].errors) == (2, 2, 0)
    assert sum(rows["new"].latency) == 4
    assert served_totals(store, NOW - timedelta(minutes=5), NOW).share_new == pytest.approx(4 / 6)


def test_traffic_counted_while_the_store_is_down_is_written_once_it_is_back(
    sqlite_url: str,
) -> None:
    store = Store(sqlite_url)  # no schema yet: every write fails
    metrics = ProxyMetrics()
    clock = [NOW - timedelta(minutes=2)]
    recorder = TrafficRecorder(store, metrics.registry, instance="test", clock=lambda: clock[0])
    try:
        metrics.request(A, "canary", "new", 200, 0.004)
        assert not recorder.flush()
        clock[0] = NOW
        metrics.request(A, "canary", "new", 200, 0.004)
        metrics.request(A, "canary", "legacy", 200, 0.004)
        assert not recorder.flush()
        upgrade(sqlite_url)
        assert recorder.flush()
        totals = served_totals(store, NOW - timedelta(minutes=5), NOW)
        assert (totals.legacy, totals.new) == (1, 2)
    finally:
        store.close()


def test_counts_kept_for_a_store_that_stays_down_are_the_newest() -> None:
    """Both recorders keep what they could not write in a PendingMinutes, capped alike."""
    pending: PendingMinutes[str, int] = PendingMinutes(cap=2)
    for minute, count in (("12:00", 5), ("12:01", 6), ("12:02", 7)):
        pending[minute] = count
    assert pending.trim() == [5]
    assert dict(pending) == {"12:01": 6, "12:02": 7}


def test_the_forecast_extrapolates_the_pace_with_a_range_or_says_why_not() -> None:
    from strangler.rollout.progress import forecast

    t0 = NOW - timedelta(days=28)
    weekly = [t0 + timedelta(days=d) for d in (7, 14, 21, 28)]
    f = forecast(weekly, 8, started=t0, now=NOW)
    assert f.per_week == pytest.approx(1.0)
    assert f.earliest is not None
    assert f.expected is not None
    assert f.latest is not None
    assert f.earliest < f.expected < f.latest
    assert f.expected - NOW == timedelta(weeks=8)
    assert "8 routes left at 1.0 routes/week" in f.describe()
    few = forecast(weekly[:2], 8, started=t0, now=NOW)
    assert few.expected is None
    assert few.describe() == (
        "no forecast: not enough history: 2 routes on new so far (a pace needs 3)"
    )
    young = forecast(weekly, 8, started=NOW - timedelta(hours=3), now=NOW)
    assert young.reason.startswith("not enough history: the first flip is less than a day")
    assert forecast(weekly, 0, started=t0, now=NOW).describe() == "every declared route is on new"


def test_status_and_the_dashboard_say_when_there_is_no_forecast_yet(
    sqlite_url: str, store: Store
) -> None:
    progress = migration_progress(_config(sqlite_url), store, now=NOW)
    assert progress.forecast is not None
    assert progress.to_json()["forecast"]["text"].startswith("no forecast: not enough history")
