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
