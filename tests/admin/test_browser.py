"""The dashboard in a real headless Chromium, in front of a running proxy."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from strangler.app import create_app
from strangler.store import Store
from tests.conftest import LiveServer, free_port

CHROMIUM = "/usr/bin/chromium"
TOKEN = "browser-test-token"
ITEMS = "GET /items/{id}"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"no Chromium at {CHROMIUM}"),
]


def _side(name: str) -> Starlette:
    async def item(request: Request) -> JSONResponse:
        return JSONResponse({"id": request.path_params["id"], "side": name})

    return Starlette(routes=[Route("/items/{id}", item), Route("/orgs/{slug}", item)])


@pytest.fixture
def browser_page() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        page = browser.new_page()
        page.set_default_timeout(30_000)
        try:
            yield page
        finally:
            browser.close()


def _side_of(url: str) -> str:
    return str(httpx.get(f"{url}/items/7", timeout=30).json()["side"])


def test_dashboard_shows_the_proxy_routes_and_flips_reach_it(
    serve: Callable[..., LiveServer], tmp_path: Path, browser_page: Any
) -> None:
    legacy, new = serve(_side("legacy")), serve(_side("new"))
    admin_port = free_port()
    config = tmp_path / "strangler.yaml"
    config.write_text(
        f"legacy: {legacy.url}\nnew: {new.url}\nstore: sqlite:///store.db\n"
        f"admin: {{port: {admin_port}, token: {TOKEN}}}\n"
        "proxy: {poll_interval: 0.2}\n"
        "routes:\n"
        f'  - route: "{ITEMS}"\n    mode: canary\n    percent: 100\n'
        '  - route: "GET /orgs/{slug}"\n    mode: shadow\n',
        encoding="utf-8",
    )
    proxy = serve(create_app(config))
    admin = f"http://127.0.0.1:{admin_port}"
    assert _side_of(proxy.url) == "new"
    page = browser_page

    violations: list[str] = []
    page.on(
        "console", lambda m: violations.append(m.text) if "Content Security" in m.text else None
    )
    response = page.goto(admin + "/")
    assert response is not None
    headers = response.headers
    csp = headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp  # no inline script: the chart below still draws
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    violations: list[str] = []
    page.on(
        "console", lambda m: violations.append(m.text) if "Content Security" in m.text else None
    )
    rows = page.locator("#routes tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).locator("td").nth(0).inner_text() == ITEMS
    assert rows.nth(0).locator("td").nth(1).inner_text().startswith("canary 100%")
    assert rows.nth(1).locator("td").nth(1).inner_text() == "shadow"
    page.wait_for_selector("#progress-chart .main-svg")  # plotly drew the chart, offline
    shots = Path(os.environ.get("STRANGLER_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "dashboard.png"), full_page=True)
    assert violations == []

    row = page.locator(f'tr[data-route="{ITEMS}"]')
    row.locator("select[name=mode]").select_option("legacy")
    row.locator("input[name=reason]").fill("rolled back from the dashboard")
    row.locator("button[type=submit]").click()
    page.wait_for_selector("#message.error")
    assert page.locator("#message").inner_text().startswith("refused (401)")
    assert _side_of(proxy.url) == "new"

    page.fill("#token", TOKEN)
    page.press("#token", "Tab")  # 'change' stores it for this tab
    row.locator("button[type=submit]").click()
    page.wait_for_selector("#message.ok")
    assert "flipped GET /items/{id}: canary -> legacy" in page.locator("#message").inner_text()
    deadline = time.monotonic() + 10
    while _side_of(proxy.url) != "legacy" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _side_of(proxy.url) == "legacy"

    page.wait_for_load_state("load")
    page.goto(admin + "/history")
    assert "rolled back from the dashboard" in page.locator("table.flips").inner_text()

    page.goto(admin + "/metrics")
    metrics = page.locator("body").inner_text()
    assert 'strangler_requests_total{mode="canary",route="GET /items/{id}",side="new"' in metrics

    store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    try:
        (flip,) = store.history(ITEMS)
        assert flip.actor.startswith("dashboard via admin API")
    finally:
        store.close()


def test_the_route_page_shows_each_difference_side_by_side_marked_and_within_the_page(
    browser_page: Any, tmp_path: Path
) -> None:
    """A long answer with a differing field deep inside: the field table links to the view,
    the differing lines are marked on both sides, the long bodies are folded, and nothing
    is wider than the window. The screenshot is the one docs/cutover.md shows."""
    from datetime import UTC, datetime

    from strangler.admin import create_admin_app
    from strangler.config import parse_config
    from strangler.store.shadow import SampledExchange, write_shadow
    from tests.conftest import start_server

    cfg = parse_config(
        {
            "legacy": "http://127.0.0.1:9",
            "new": "http://127.0.0.1:9",
            "store": f"sqlite:///{tmp_path / 'store.db'}",
            "routes": [{"route": "GET /orgs/{slug}", "mode": "shadow"}],
        }
    )
    store = Store(cfg.store)
    store.ensure_schema()
    items = [{"sku": f"SKU-{i:04d}", "title": "a long title " * 12, "qty": i} for i in range(40)]
    legacy = {"id": 7, "items": items}
    new = {"id": 7, "items": [dict(x, qty=x["qty"] + (i == 23)) for i, x in enumerate(items)]}
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    from strangler.store.shadow import FieldTally

    sample = SampledExchange(
        route="GET /orgs/{slug}", at=now, instance="p", outcome="mismatch", severity="value",
        field="$.items[*].qty", reason="", method="GET", path="/orgs/acme", query="",
        request_headers=[], request_body="", primary_side="legacy", candidate_side="new",
        primary_status=200, primary_headers=[], primary_body=json_dumps(legacy),
        primary_ms=1.0, candidate_status=200, candidate_headers=[],
        candidate_body=json_dumps(new), candidate_ms=2.0, candidate_error="",
        differences=[{"path": "$.items[23].qty", "field": "$.items[*].qty", "kind": "value",
                      "legacy": 23, "new": 24}],
        noise=[],
    )  # fmt: skip
    fields = {("GET /orgs/{slug}", now, "$.items[*].qty"): FieldTally("value", 3, 0, 3, 0)}
    write_shadow(store, "p", {}, fields, [sample])
    admin = start_server(create_admin_app(cfg, store))
    page = browser_page
    try:
        page.set_viewport_size({"width": 1100, "height": 900})
        page.goto(admin.url + "/route?route=" + "GET%20%2Forgs%2F%7Bslug%7D")
        page.click('a[href="#diff-1"]')
        assert page.evaluate("location.hash") == "#diff-1"
        view = page.locator("#diff-1")
        for side in range(2):
            view.locator("details").nth(side).locator("summary").click()  # folded: unfold
        marks = view.locator("mark")
        assert marks.count() == 2  # the one differing line on each side
        assert '"qty": 23' in marks.nth(0).inner_text()
        assert '"qty": 24' in marks.nth(1).inner_text()
        assert marks.nth(0).is_visible()
        wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert wide <= 0, f"the page is {wide}px wider than the window"
        shots = Path(os.environ.get("STRANGLER_SCREENSHOTS", tmp_path))
        shots.mkdir(parents=True, exist_ok=True)
        marks.nth(0).scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "route-differences.png"))
    finally:
        admin.stop()
        store.close()


def _served_and_discovered(store: Store) -> None:
    """A minute of traffic: 400 answers by the declared route, 600 by the catch-all, of
    which the proxy placed 300 under /orgs/{org}/stats and 240 under /receipts/{receipt_id}."""
    from datetime import UTC, datetime

    from shadow.histogram import LatencyHistogram
    from strangler.store.discovered import write_discovered
    from strangler.store.traffic import write_traffic

    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    latency = tuple(LatencyHistogram().counts)
    write_traffic(store, "p", {(ITEMS, minute, "legacy"): (400, 400, 0, latency),
                               ("* /{path:path}", minute, "legacy"): (600, 600, 0, latency)})  # fmt: skip
    write_discovered(store, "p", {("GET", "/orgs/{org}/stats", minute): 300,
                                  ("GET", "/receipts/{receipt_id}", minute): 240})  # fmt: skip


def json_dumps(doc: Any) -> str:
    import json

    return json.dumps(doc)


def test_the_dashboard_updates_in_place_when_a_route_is_flipped_elsewhere(
    browser_page: Any, tmp_path: Path
) -> None:
    """A dashboard on a screen follows the migration by itself: a flip made from the CLI
    shows within seconds, without a reload (a reload would drop the page's own state)."""
    from strangler.admin import create_admin_app
    from strangler.config import parse_config
    from strangler.control import flip_route
    from tests.conftest import start_server

    cfg = parse_config(
        {
            "legacy": "http://127.0.0.1:9",
            "new": "http://127.0.0.1:9",
            "store": f"sqlite:///{tmp_path / 'store.db'}",
            "admin": {"refresh": "1s"},
            "routes": [{"route": ITEMS, "mode": "legacy"}],
        }
    )
    store = Store(cfg.store)
    store.ensure_schema()
    admin = start_server(create_admin_app(cfg, store))
    page = browser_page
    try:
        page.goto(admin.url + "/")
        mode = page.locator(f'tr[data-route="{ITEMS}"] td.mode')
        assert mode.inner_text().startswith("legacy")
        page.evaluate("window.__notReloaded = true")
        flip_route(cfg, store, ITEMS, "shadow", None, "compare first", actor="cli")
        deadline = time.monotonic() + 15
        while not mode.inner_text().startswith("shadow"):  # the page's CSP forbids eval
            assert time.monotonic() < deadline, "the flip never showed"
            page.wait_for_timeout(200)
        assert page.evaluate("window.__notReloaded === true")  # updated in place
        assert "state version 1" in page.locator("h2 small").inner_text()
        # the surface page: every endpoint with its mode and next step, the ones the proxy
        # discovered in its catch-all traffic included
        _served_and_discovered(store)
        page.click('nav a[href="/surface"]')
        row = page.locator("#surface tbody tr").first
        assert row.locator("td").nth(0).inner_text() == ITEMS
        assert row.locator("td").nth(1).inner_text() == "shadow"
        assert row.locator("td").nth(5).inner_text().startswith("flip it to canary")
        found = page.locator("#surface tbody tr").nth(1).locator("td")
        assert found.nth(0).inner_text() == "GET /orgs/{org}/stats (discovered)"
        assert found.nth(2).inner_text() == "30.00%"
        assert found.nth(5).inner_text().startswith("declare it and shadow it")
        shots = Path(os.environ.get("STRANGLER_SCREENSHOTS", tmp_path))
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / "surface.png"))
    finally:
        admin.stop()
        store.close()


def test_the_burn_up_chart_spans_the_migration_and_climbs(
    browser_page: Any, tmp_path: Path
) -> None:
    """Six routes flipped over six hours while new takes a growing share of the traffic:
    the chart starts with the migration's first record (not at midnight), the routes on new climb to the
    flips' count and the share served by new climbs with them. The screenshot is the one
    docs/cutover.md shows."""
    import json
    import sqlite3
    from datetime import UTC, datetime, timedelta

    from shadow.histogram import LatencyHistogram
    from strangler.admin import create_admin_app
    from strangler.config import parse_config
    from strangler.control import flip_route
    from strangler.store.traffic import write_traffic
    from tests.conftest import start_server

    routes = [f"GET /{name}/{{id}}" for name in ("orgs", "forms", "orders", "payments", "tags", "faq")]  # fmt: skip
    db = tmp_path / "store.db"
    cfg = parse_config(
        {"legacy": "http://127.0.0.1:9", "new": "http://127.0.0.1:9", "store": f"sqlite:///{db}",
         "routes": [{"route": r, "mode": "legacy"} for r in routes]}
    )  # fmt: skip
    store = Store(cfg.store)
    store.ensure_schema()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    start = now - timedelta(hours=6)
    # every half hour a route goes to shadow, and the one before it to new
    plan = [(routes[0], "shadow")]
    for i in range(1, 6):
        plan += [(routes[i], "shadow"), (routes[i - 1], "new")]
    plan = plan[:10]
    backdated = []
    for n, (route, mode) in enumerate(plan):
        flip = flip_route(cfg, store, route, mode, None, "burn-up", actor="t", force=True)
        backdated.append((f"{start + timedelta(minutes=30 * n + 5):%Y-%m-%d %H:%M:%S}", flip.id))
    with sqlite3.connect(db) as conn:
        conn.executemany("UPDATE flips SET at = ? WHERE id = ?", backdated)
    on_new = sum(1 for _, mode in plan if mode == "new")
    latency = tuple(LatencyHistogram().counts)
    for q in range(24):  # every 15 minutes, new serving a growing share
        minute = start + timedelta(minutes=15 * q)
        new = 10 * q
        write_traffic(store, "p", {(routes[0], minute, "legacy"): (400 - new, 400 - new, 0, latency),
                                   (routes[0], minute, "new"): (new, new, 0, latency)})  # fmt: skip
    admin = start_server(create_admin_app(cfg, store))
    page = browser_page
    try:
        page.set_viewport_size({"width": 1100, "height": 900})
        page.goto(admin.url + "/")
        page.wait_for_selector("#progress-chart .main-svg")
        figure = json.loads(page.locator("#progress-chart").get_attribute("data-figure") or "{}")
        first = figure["layout"]["xaxis"]["range"][0]
        assert first.startswith(f"{start:%Y-%m-%dT%H:%M}"), first  # its first traffic
        traces = {t["name"]: t for t in figure["data"]}
        assert traces["routes in new"]["y"][-1] == on_new == 4
        share = traces["% of traffic served by new"]["y"]
        assert share[0] < share[-1]
        shots = Path(os.environ.get("STRANGLER_SCREENSHOTS", tmp_path))
        shots.mkdir(parents=True, exist_ok=True)
        page.locator("#progress-chart").screenshot(path=str(shots / "burn-up.png"))
    finally:
        admin.stop()
        store.close()
