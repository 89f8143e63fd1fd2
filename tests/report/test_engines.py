"""The recorder's upserts and the report's queries on PostgreSQL and MariaDB too."""

from __future__ import annotations

import pytest

from shadow.noise import RouteNoise
from strangler.recorder import Recorder
from strangler.report import build_report, render
from strangler.store import Store
from tests.report.test_report import ROUTE, result


def _roundtrip(url: str) -> None:
    store = Store(url)
    try:
        store.ensure_schema()
        recorder = Recorder(store, instance="engine-test")
        recorder.start()
        stats = RouteNoise()
        for flush in range(2):  # the second flush updates the rows the first one inserted
            for i in range(3):
                recorder.record(result(ROUTE, {"v": 1, "n": i}, {"v": 2, "n": i}, stats=stats))
            recorder.record(result(ROUTE, {"v": 1}, {"v": 1}, stats=stats))
            recorder.drop(ROUTE, "timeout")
            assert recorder.flush()
            assert recorder.store_failures == 0, flush
        recorder.stop()
        report = build_report(store, None)
        (r,) = report.routes
        assert (r.requests, r.compared, r.matched) == (10, 8, 2)
        assert r.mismatches["value"] == 6
        assert r.dropped == {"timeout": 2}
        assert r.latency["new"].count == 8
        fields = {f.field: f for f in r.fields}
        assert fields["$.v"].mismatches == 6
        assert fields["$.v"].example is not None
        assert "$.v" in render(report, "html")
    finally:
        store.close()


@pytest.mark.postgres
def test_postgres(postgres_url: str) -> None:
    _roundtrip(postgres_url)


@pytest.mark.mariadb
def test_mariadb(mariadb_url: str) -> None:
    _roundtrip(mariadb_url)


def test_sqlite(sqlite_url: str) -> None:
    _roundtrip(sqlite_url)
