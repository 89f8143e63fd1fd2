"""One latency format in the store: a store holding served-traffic rows of the old format
(counts over Prometheus' buckets) upgrades to the histogram every table uses, and readiness
reads about the same p99 from them as it did."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import JSON, Integer, String, column, create_engine, select, table

from shadow.histogram import BOUNDS_MS, LatencyHistogram
from strangler.metrics import LATENCY_BUCKETS, p99_from_buckets
from strangler.store import Store, downgrade, upgrade
from strangler.store.models import UTCDateTime
from strangler.store.traffic import window_stats

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
ROUTE = "GET /orders/{id}"
# Answers per Prometheus bucket (<= 1, 2.5, 5, 10, 25, 50, 100, 250 ms ... 10 s, above).
OLD = {
    "legacy": [0, 0, 40, 300, 500, 120, 30, 8, 2, 0, 0, 0, 0, 0],
    "new": [0, 0, 10, 200, 400, 250, 100, 30, 9, 1, 0, 0, 0, 2],
}

traffic = table(
    "traffic_minutes",
    column("id", Integer()),
    column("route", String()),
    column("minute", UTCDateTime()),
    column("instance", String()),
    column("side", String()),
    column("served", Integer()),
    column("requests", Integer()),
    column("errors", Integer()),
    column("latency", JSON()),
)


def _old_p99_ms(counts: list[int]) -> float:
    cumulative, total = [], 0
    for le, n in zip((*LATENCY_BUCKETS, math.inf), counts, strict=True):
        total += n
        cumulative.append((le, float(total)))
    seconds = p99_from_buckets(cumulative)
    assert seconds is not None
    return seconds * 1000


def _stored(url: str) -> dict[str, list[int]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(traffic.c.side, traffic.c.latency)).all()
            return {side: latency for side, latency in rows}
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "engine",
    [
        "sqlite_url",
        pytest.param("postgres_url", marks=pytest.mark.postgres),
        pytest.param("mariadb_url", marks=pytest.mark.mariadb),
    ],
)
def test_served_latency_rows_of_the_old_format_are_converted(
    engine: str, request: pytest.FixtureRequest
) -> None:
    url: str = request.getfixturevalue(engine)
    upgrade(url, "0006")
    db = create_engine(url)
    try:
        with db.begin() as conn:
            for side, counts in OLD.items():
                conn.execute(
                    traffic.insert().values(
                        route=ROUTE, minute=NOW - timedelta(minutes=3), instance="p1",
                        side=side, served=sum(counts), requests=sum(counts), errors=0,
                        latency=counts,
                    )
                )  # fmt: skip
    finally:
        db.dispose()

    upgrade(url)
    stored = _stored(url)
    for side, counts in OLD.items():
        assert len(stored[side]) == len(BOUNDS_MS) + 1
        assert sum(stored[side]) == sum(counts)  # every answer kept
    store = Store(url)
    try:
        stats = window_stats(store, NOW - timedelta(hours=1), NOW)[ROUTE]
    finally:
        store.close()
    assert stats.legacy_p99_ms == pytest.approx(_old_p99_ms(OLD["legacy"]), rel=0.1)
    assert stats.new_p99_ms == pytest.approx(_old_p99_ms(OLD["new"]), rel=0.1)

    downgrade(url, "0006")
    assert _stored(url) == OLD  # the Prometheus buckets again, exactly


def test_spreading_keeps_every_count_in_its_range() -> None:
    h = LatencyHistogram.spread((10.0, 25.0), (0, 7, 1))
    in_range = [c for b, c in zip(BOUNDS_MS, h.counts, strict=False) if 10.0 < b <= 25.0]
    assert (sum(in_range), h.count) == (7, 8)
    assert h.counts[BOUNDS_MS.index(25.0) + 1] == 1  # above the last bound: right above it
