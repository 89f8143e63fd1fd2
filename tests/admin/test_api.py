"""The admin JSON API, pages and metrics on a real uvicorn server and a real SQLite store."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from strangler.admin import create_admin_app
from strangler.config import Config, parse_config
from strangler.control import open_store
from strangler.metrics import ProxyMetrics
from strangler.store import Store
from tests.conftest import LiveServer

TOKEN = "s3cret-token"
EVIL = "GET /x/<script>alert(1)</script>"


def _config(store_url: str, token: str | None = TOKEN, **readiness: Any) -> Config:
    return parse_config(
        {
            "legacy": "http://127.0.0.1:9",
            "new": "http://127.0.0.1:9",
            "store": store_url,
            "admin": {"token": token, "token_env": "STRANGLER_TEST_NO_SUCH_VAR"},
            "readiness": readiness,
            "routes": [
                {"route": "GET /orgs/{slug}", "mode": "shadow"},
                {"route": "GET /forms", "mode": "canary", "percent": 10},
                {"route": EVIL},
            ],
        }
    )


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    s = open_store(_config(sqlite_url))
    yield s
    s.close()


@pytest.fixture
def admin(
    serve: Callable[..., LiveServer], sqlite_url: str, store: Store
) -> Iterator[Callable[..., httpx.Client]]:
    clients: list[httpx.Client] = []

    def _start(**kw: Any) -> httpx.Client:
        metrics = ProxyMetrics()
        metrics.request("GET /forms", "canary", "new", 200, 0.02)
        metrics.fallback("GET /forms", "status_5xx")
        app = create_admin_app(_config(sqlite_url, **kw), store, registry=metrics.registry)
        live = serve(app)
        clients.append(httpx.Client(base_url=live.url, timeout=30))
        return clients[-1]

    yield _start
    for client in clients:
        client.close()


def _auth(token: str = TOKEN) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def test_routes_readiness_and_status_read_the_store(
    admin: Callable[..., httpx.Client], store: Store
) -> None:
    client = admin()
    routes = client.get("/api/routes").json()
    assert [(r["route"], r["mode"], r["percent"]) for r in routes["routes"]] == [
        ("GET /orgs/{slug}", "shadow", None),
        ("GET /forms", "canary", 10.0),
        (EVIL, "legacy", None),
    ]
    readiness = client.get("/api/readiness").json()
    assert readiness[0]["ready"] is False
    assert readiness[0]["blockers"][0].startswith("sample: 0 compared requests")
    status = client.get("/api/status").json()
    assert (status["routes_total"], status["routes_done"]) == (3, 0)
    assert status["by_mode"]["canary"] == 1


def test_writes_without_the_token_answer_401_and_change_nothing(
    admin: Callable[..., httpx.Client], store: Store
) -> None:
    client = admin(min_compared=0)
    body = {"route": "GET /orgs/{slug}", "mode": "new", "reason": "go"}
    missing = client.post("/api/flip", json=body)
    wrong = client.post("/api/flip", json=body, headers=_auth("guess"))
    kill = client.post("/api/kill-switch", json={"engaged": True, "reason": "x"})
    assert (missing.status_code, wrong.status_code, kill.status_code) == (401, 401, 401)
    assert "Bearer" in missing.json()["error"]
    assert wrong.json()["error"] == "the admin token is wrong"
    assert store.history() == []


def test_the_surface_page_and_api_list_every_declared_route_with_its_next_step(
    admin: Callable[..., httpx.Client],
) -> None:
    client = admin()
    data = client.get("/api/surface").json()
    steps = {e["route"]: e["next_step"] for e in data["entries"]}
    assert steps["GET /orgs/{slug}"].startswith("flip it to canary")
    assert data["declared"] == 3
    page = client.get("/surface").text
    assert '<table id="surface">' in page
    assert "flip it to canary once ready" in page


def test_without_a_configured_token_the_admin_side_is_read_only(
    admin: Callable[..., httpx.Client], store: Store
) -> None:
    client = admin(token=None)
    resp = client.post("/api/flip", json={}, headers=_auth())
    assert resp.status_code == 401
    assert "no admin token is configured" in resp.json()["error"]
    page = client.get("/").text
    assert "read-only: no admin token is configured" in page
    # no control that could only ever answer 401: no flip form, no kill switch button
    assert 'data-action="flip"' not in page
    assert 'data-action="kill-switch"' not in page
    assert 'data-action="flip"' in admin().get("/").text  # with a token they are there


def test_flip_with_the_token_is_recorded_with_who_and_why(
    admin: Callable[..., httpx.Client], store: Store
) -> None:
    client = admin(min_compared=0)
    resp = client.post(
        "/api/flip",
        json={
            "route": "get /orgs/{slug}",
            "mode": "canary",
            "percent": "5",
            "reason": "try 5%",
            "actor": "ann",
        },
        headers=_auth(),
    )
    assert resp.status_code == 200, resp.text
    (flip,) = store.history()
    assert (flip.route, flip.to_mode, str(flip.to_percent), flip.reason) == (
        "GET /orgs/{slug}",
        "canary",
        "5.00",
        "try 5%",
    )
    assert flip.actor == "ann via admin API (127.0.0.1)"
    assert client.get("/api/history").json()[0]["id"] == flip.id


def test_refused_flip_answers_409_with_the_blockers(
    admin: Callable[..., httpx.Client], store: Store
) -> None:
    client = admin()
    resp = client.post(
        "/api/flip",
        json={"route": "GET /orgs/{slug}", "mode": "new", "reason": "go"},
        headers=_auth(),
    )
    assert resp.status_code == 409
    assert resp.json()["blockers"][0] == (
        "sample: 0 compared requests in the last 1h (needs >= 100)"
    )
    bad = client.post(
        "/api/flip", json={"route": "GET /nope", "mode": "new", "reason": "go"}, headers=_auth()
    )
    assert bad.status_code == 400
    assert "no route 'GET /nope'" in bad.json()["error"]


def test_kill_switch_from_the_api_sends_every_route_to_legacy(
    admin: Callable[..., httpx.Client], store: Store
) -> None:
    client = admin()
    resp = client.post(
        "/api/kill-switch", json={"engaged": True, "reason": "incident 7"}, headers=_auth()
    )
    assert resp.status_code == 200
    assert {f["route"] for f in resp.json()["flips"]} == {"GET /orgs/{slug}", "GET /forms"}
    assert {s.mode for s in store.live_states().values()} == {"legacy"}
    assert "kill switch on since" in client.get("/").text
    assert client.get("/api/status").json()["kill_switch"]["engaged"] is True


def test_everything_shown_is_html_escaped(admin: Callable[..., httpx.Client], store: Store) -> None:
    client = admin(min_compared=0)
    client.post(
        "/api/flip",
        json={"route": EVIL, "mode": "shadow", "reason": "<img src=x onerror=alert(2)>"},
        headers=_auth(),
    )
    for path in ("/", "/history", "/route?route=" + EVIL):
        page = client.get(path).text
        assert "<script>alert(1)" not in page, path
        assert "<img src=x" not in page, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path
    assert "&lt;img src=x onerror=alert(2)&gt;" in client.get("/history").text


def test_metrics_expose_the_proxy_registry(admin: Callable[..., httpx.Client]) -> None:
    client = admin()
    resp = client.get("/metrics")
    assert resp.headers["content-type"].startswith("text/plain")
    assert (
        'strangler_requests_total{mode="canary",route="GET /forms",side="new",status="2xx"} 1.0'
        in resp.text
    )
    assert 'strangler_fallbacks_total{reason="status_5xx",route="GET /forms"} 1.0' in resp.text
    assert "strangler_request_seconds_bucket" in resp.text


def test_workers_of_a_single_process_proxy_is_this_process(
    admin: Callable[..., httpx.Client],
) -> None:
    body = admin().get("/api/workers").json()
    assert body == {
        "leader": os.getpid(),
        "workers": [{"pid": os.getpid(), "alive": True, "leader": True, "requests": 1}],
    }


def test_the_page_ships_plotly_and_its_progress_chart(admin: Callable[..., httpx.Client]) -> None:
    client = admin()
    page = client.get("/").text
    assert '<script src="/static/plotly.min.js"></script>' in page
    assert 'id="progress-chart" data-figure="{' in page
    js = client.get("/static/plotly.min.js")
    assert js.status_code == 200
    assert b"plotly" in js.content[:2000].lower()


def test_unknown_route_page_is_404(admin: Callable[..., httpx.Client]) -> None:
    resp = admin().get("/route", params={"route": "GET /nope"})
    assert resp.status_code == 404
    assert "no route GET /nope in the config" in resp.text


def test_route_page_shows_differences_with_both_redacted_answers(
    admin: Callable[..., httpx.Client], store: Store
) -> None:
    from datetime import UTC, datetime

    from strangler.store.shadow_models import ShadowExchangeRow, ShadowFieldRow

    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with store.session() as s:
        s.add_all(
            [
                ShadowFieldRow(
                    route="GET /orgs/{slug}",
                    minute=now,
                    instance="p",
                    field="$.plan",
                    severity="value",
                    mismatches=7,
                    noise=0,
                    legacy_new=7,
                    legacy_legacy=0,
                ),
                ShadowFieldRow(
                    route="GET /orgs/{slug}",
                    minute=now,
                    instance="p",
                    field="$.updated_at",
                    severity="value",
                    mismatches=0,
                    noise=40,
                    legacy_new=40,
                    legacy_legacy=40,
                ),
                ShadowExchangeRow(
                    route="GET /orgs/{slug}",
                    at=now,
                    instance="p",
                    outcome="mismatch",
                    severity="value",
                    field="$.plan",
                    method="GET",
                    path="/orgs/acme",
                    primary_side="legacy",
                    candidate_side="new",
                    primary_status=200,
                    primary_body='{"plan": "<b>gold</b>", "card": "[REDACTED]"}',
                    candidate_status=200,
                    candidate_body='{"plan": "silver"}',
                    differences=[
                        {
                            "path": "$.plan",
                            "field": "$.plan",
                            "kind": "value",
                            "legacy": "<b>gold</b>",
                            "new": "silver",
                        }
                    ],
                ),
            ]
        )
    page = admin().get("/route", params={"route": "GET /orgs/{slug}"}).text
    table = page[page.index('<table class="differences">') :]
    assert table.index("$.plan") < table.index("$.updated_at")  # real mismatches first
    assert "<td>7</td><td>0</td>" in table
    # the field links to its side-by-side view, where the differing lines are marked
    assert '<a href="#diff-1"><code>$.plan</code></a>' in table
    view = page[page.index('id="diff-1"') :]
    assert "<mark>  &#34;plan&#34;: &#34;&lt;b&gt;gold&lt;/b&gt;&#34;,</mark>" in view
    assert "<mark>  &#34;plan&#34;: &#34;silver&#34;</mark>" in view
    assert "legacy answered 200" in view
    assert "&#34;card&#34;: &#34;[REDACTED]&#34;" in view  # unmarked, redacted as stored


def test_a_store_outage_is_a_clean_503_everywhere_and_recovers_by_itself(
    admin: Callable[..., httpx.Client], sqlite_url: str
) -> None:
    client = admin()
    assert client.get("/api/routes").status_code == 200
    db = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    try:
        for table in ("route_state", "state_version", "flips", "evidence"):
            db.execute(f"ALTER TABLE {table} RENAME TO {table}_away")  # the store breaks
        db.commit()
        for path in ("/api/routes", "/api/readiness", "/api/status", "/api/history"):
            resp = client.get(path)
            assert resp.status_code == 503, (path, resp.text)
            assert resp.json()["error"] == "store_unavailable"
            assert resp.headers["retry-after"] == "5"
        page = client.get("/")
        assert page.status_code == 503
        assert "The store is unreachable" in page.text
        assert "Traceback" not in page.text
        for table in ("route_state", "state_version", "flips", "evidence"):
            db.execute(f"ALTER TABLE {table}_away RENAME TO {table}")  # back
        db.commit()
    finally:
        db.close()
    assert client.get("/api/routes").status_code == 200
    assert client.get("/").status_code == 200


def test_every_admin_answer_carries_the_security_headers(
    admin: Callable[..., httpx.Client],
) -> None:
    client = admin()
    for path in ("/", "/api/routes", "/static/admin.js", "/nothing-here"):
        headers = client.get(path).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "script-src 'self'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
