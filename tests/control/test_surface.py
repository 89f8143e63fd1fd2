"""``strangler surface``: declared routes with their traffic and next step, endpoints only
the access logs know, and routes quiet long enough to retire."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shadow.histogram import LatencyHistogram
from strangler.cli import main
from strangler.store import Store
from strangler.store.discovered import write_discovered
from strangler.store.traffic import write_traffic

CONFIG = """\
legacy: http://127.0.0.1:9
new: http://127.0.0.1:9
store: sqlite:///{db}
routes:
  - route: "GET /orgs/{{slug}}"
    mode: shadow
  - route: "GET /forms/{{id}}"
    mode: new
  - route: "GET /old-report"
"""


def _served(store: Store, route: str, ago: timedelta, served: int) -> None:
    minute = (datetime.now(UTC) - ago).replace(second=0, microsecond=0)
    latency = tuple(LatencyHistogram().counts)
    write_traffic(store, "p1", {(route, minute, "legacy"): (served, served, 0, latency)})


def test_surface_lists_every_endpoint_with_its_traffic_and_next_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "strangler.yaml"
    config.write_text(CONFIG.format(db=tmp_path / "s.db"))
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    store.ensure_schema()
    _served(store, "GET /orgs/{slug}", timedelta(minutes=5), 300)
    _served(store, "GET /forms/{id}", timedelta(hours=30), 100)
    _served(store, "GET /old-report", timedelta(days=9), 7)  # older than the week: quiet
    _served(store, "* /{path:path}", timedelta(minutes=3), 100)
    store.close()
    log = tmp_path / "access.log"
    log.write_text(
        "".join(
            f'10.0.0.1 - - [05/Dec/2026:10:00:00 +0000] "GET {p} HTTP/1.1" 200 5 "-" "x"\n'
            for p in ["/orgs/acme", "/orgs/hope", "/exports/2026-01-01", "/exports/2026-02-01"]
        )
    )
    capsys.readouterr()
    assert main(["surface", "-c", str(config), "--from", str(log), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    by_route = {e["route"]: e for e in data["entries"]}
    orgs = by_route["GET /orgs/{slug}"]
    assert (orgs["mode"], orgs["served_day"], orgs["log_requests"]) == ("shadow", 300, 2)
    assert orgs["share_day"] == pytest.approx(300 / 400)
    assert orgs["next_step"].startswith("flip it to canary")
    forms = by_route["GET /forms/{id}"]
    assert (forms["served_day"], forms["served_week"]) == (0, 100)  # 30 h ago: week only
    assert data["retirement_candidates"] == ["GET /old-report"]
    exports = by_route["GET /exports/{export_date}"]
    assert exports["declared"] is False
    assert exports["next_step"].startswith("declare it")
    assert by_route["* /{path:path}"]["served_day"] == 100
    assert (data["endpoints"], data["declared"]) == (5, 3)
    assert main(["surface", "-c", str(config), "--from", str(log)]) == 0
    table = capsys.readouterr().out
    assert "GET /exports/{export_date}  (undeclared)" in table
    assert "retirement candidate" in table


def test_endpoints_the_proxy_discovered_join_the_surface_once_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Live discovery's endpoints: one entry per shape with what the logs show, none for an
    endpoint declared since, and the catch-all keeps only what no endpoint accounts for."""
    config = tmp_path / "strangler.yaml"
    config.write_text(CONFIG.format(db=tmp_path / "s.db"))
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    store.ensure_schema()
    _served(store, "GET /orgs/{slug}", timedelta(minutes=5), 300)
    _served(store, "* /{path:path}", timedelta(minutes=3), 100)
    minute = (datetime.now(UTC) - timedelta(minutes=3)).replace(second=0, microsecond=0)
    write_discovered(
        store,
        "p1",
        {
            ("GET", "/exports/{export_date}", minute): 40,  # the logs know it too
            ("POST", "/exports/{export_date}", minute): 5,
            ("GET", "/receipts/{receipt_id}", minute): 30,
            ("GET", "/forms/{form_id}", minute): 20,  # declared since: GET /forms/{id}
        },
    )
    write_discovered(store, "p2", {("GET", "/receipts/{receipt_id}", minute): 3})
    store.close()
    log = tmp_path / "access.log"
    log.write_text(
        '10.0.0.1 - - [05/Dec/2026:10:00:00 +0000] "GET /exports/2026-01-01 HTTP/1.1" 200 5 "-" "x"\n'
    )
    assert main(["surface", "-c", str(config), "--from", str(log), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    undeclared = {e["route"]: e for e in data["entries"] if not e["declared"]}
    assert list(undeclared) == [
        "GET,POST /exports/{export_date}",
        "GET /receipts/{receipt_id}",
        "* /{path:path}",
    ]
    exports, receipts = undeclared["GET,POST /exports/{export_date}"], undeclared["GET /receipts/{receipt_id}"]  # fmt: skip
    assert (exports["source"], exports["served_day"], exports["log_requests"]) == (
        "live, logs",
        45,
        1,
    )
    assert (receipts["source"], receipts["served_week"]) == ("live", 33)  # both instances
    assert receipts["next_step"].startswith("declare it and shadow it")
    rest = undeclared["* /{path:path}"]
    assert (rest["source"], rest["served_day"]) == ("catch-all", 100 - 45 - 33)  # /forms: here
    assert sum(e["share_day"] for e in data["entries"]) == pytest.approx(1.0)
