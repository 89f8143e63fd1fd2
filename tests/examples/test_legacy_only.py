"""Legacy's endpoints that the example config does not declare: they answer on legacy, the
rewrite has none of them, and the demo's traffic to them all succeeds."""

from __future__ import annotations

from examples.traffic import UNDECLARED, load_catalogue, send_undeclared
from tests.examples.conftest import Pair


def test_legacy_serves_endpoints_the_rewrite_does_not_have(pair: Pair) -> None:
    stats = pair.legacy.get("/orgs/secours-theatre-jeune/stats")
    assert stats.status_code == 200
    assert stats.json()["organisation"] == "secours-theatre-jeune"
    receipt = pair.legacy.get("/receipts/51")
    assert (receipt.status_code, receipt.json()["reference"]) == (200, "PAY-000051")
    report = pair.legacy.get("/reports/daily/2026-03-14")
    assert (report.status_code, report.json()["day"]) == (200, "2026-03-14")
    assert pair.legacy.get("/reports/daily/14-03-2026").status_code == 400
    assert pair.legacy.get("/receipts/99999999").status_code == 404
    for path in ("/orgs/secours-theatre-jeune/stats", "/receipts/51"):
        assert pair.new.get(path).status_code == 404


def test_the_undeclared_traffic_reaches_every_undeclared_endpoint(pair: Pair) -> None:
    summary = send_undeclared(str(pair.legacy.base_url), load_catalogue(pair.legacy_db))
    assert summary.failed == 0
    assert summary.by_route().keys() == UNDECLARED.keys()
    assert all(set(s) == {200} for s in summary.by_route().values())
