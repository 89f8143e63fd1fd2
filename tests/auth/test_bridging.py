"""Auth bridging with real servers: two apps that refuse each other's tokens, one proxy.

Scenario of every test: clients log in through the proxy (``POST /api/login``, a route of
the ``users`` domain), then browse (``GET /api/me``, ``GET /api/orders``). Without a
bridge half of a 50 % canary would be 401s; with one, none is.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from shadow.runner import ShadowRunner
from strangler import FlipRefused
from strangler.config import parse_config
from strangler.control import flip_route, readiness_of
from strangler.proxy import Proxy
from strangler.recorder import Recorder
from strangler.routing import RouteTable
from strangler.shadowing import attach_shadow
from strangler.store import Store
from strangler.store.shadow_models import ShadowFieldRow
from tests.auth import apps, bridge
from tests.conftest import LiveServer, start_server

ROUTES = [
    {"route": "POST /api/login", "mode": "canary", "percent": 50},
    {"route": "POST /api/session", "mode": "canary", "percent": 50},
    {"route": "GET /api/me", "mode": "canary", "percent": 50},
    {"route": "GET /api/orders", "mode": "canary", "percent": 50},
]
USERS = ["ada", "bob", "cy"]


@pytest.fixture(scope="module")
def sides() -> Iterator[tuple[LiveServer, LiveServer]]:
    legacy = start_server(apps.build("legacy"))
    new = start_server(apps.build("new", differ_for="bob"))
    yield legacy, new
    new.stop()
    legacy.stop()


def _config(
    sides: tuple[LiveServer, LiveServer],
    domain: dict[str, Any] | None,
    routes: list[dict[str, Any]] = ROUTES,
    **extra: Any,
) -> Any:
    legacy, new = sides
    data = {
        "legacy": legacy.url,
        "new": new.url,
        "routes": routes,
        **extra,
    }
    if domain is not None:
        data["auth"] = {
            "domains": [
                {
                    "name": "users",
                    "routes": ["* /api/{rest:path}"],
                    "credential": "header:Authorization",
                    **domain,
                }
            ]
        }
    return parse_config(data, source=str(Path(__file__).parent.parent.parent / "x.yaml"))


@pytest.fixture
def proxy_for(
    sides: tuple[LiveServer, LiveServer],
) -> Iterator[Callable[..., tuple[str, Proxy]]]:
    started: list[LiveServer] = []

    def make(domain: dict[str, Any] | None, **kw: Any) -> tuple[str, Proxy]:
        proxy = Proxy(_config(sides, domain, **kw))
        live = start_server(proxy)
        started.append(live)
        return live.url, proxy

    yield make
    for live in started:
        live.stop()


def _settle(runner: ShadowRunner, sent: int) -> None:
    """Wait until ``sent`` shadowed requests were compared and recorded."""
    deadline = time.monotonic() + 30
    while runner.submitted < sent or runner.in_flight:
        assert time.monotonic() < deadline, "shadow calls did not finish"
        time.sleep(0.01)
    recorder = runner.sink
    assert isinstance(recorder, Recorder)
    assert recorder.flush(timeout=30)


def _browse(url: str, clients: int = 30) -> tuple[Counter[str], list[str]]:
    """Each client logs in, then reads /api/me and /api/orders twice. Returns the sides
    that served the reads and the failures (status and body)."""
    served: Counter[str] = Counter()
    failures: list[str] = []
    for n in range(clients):
        user = USERS[n % len(USERS)]
        with httpx.Client(base_url=url, timeout=10) as client:
            login = client.post("/api/login", json={"user": user})
            assert login.status_code == 200, login.text
            auth = {"authorization": f"Bearer {login.json()['token']}"}
            for _ in range(2):
                for path in ("/api/me", "/api/orders"):
                    resp = client.get(path, headers=auth)
                    served[resp.headers.get("x-served-by", "?")] += 1
                    if resp.status_code != 200 or resp.json()["user"] != user:
                        failures.append(f"{path} {resp.status_code} {resp.text[:80]}")
    return served, failures


def test_a_half_canary_without_an_auth_domain_fails_authenticated_reads(
    proxy_for: Any,
) -> None:
    url, _ = proxy_for(None)
    served, failures = _browse(url, clients=12)
    assert served["legacy"]
    assert served["new"]
    assert failures, "tokens crossed sides without a bridge: the apps are not independent"


def test_a_hook_bridge_gives_zero_auth_failures_in_a_half_canary(proxy_for: Any) -> None:
    url, _ = proxy_for(
        {
            "to_new": {"hook": "tests.auth.bridge:legacy_to_new"},
            "to_legacy": {"hook": "tests.auth.bridge:new_to_legacy"},
        }
    )
    before = dict(bridge.CALLS)
    served, failures = _browse(url)
    assert failures == []
    assert served["legacy"] > 10
    assert served["new"] > 10
    # One cohort per client for the whole domain: a client whose login went to new reads
    # from new, so tokens cross only when the cohort differs from the issuer (none here).
    crossed = bridge.CALLS["to_new"] - before["to_new"] + bridge.CALLS["to_legacy"]
    assert crossed - before["to_legacy"] == 0
    text = httpx.get(f"{url}/api/me").text  # no credential: a plain 401 from one side
    assert "unauthorized" in text


def test_the_bridge_translates_a_credential_issued_elsewhere_once_per_ttl(
    proxy_for: Any, sides: tuple[LiveServer, LiveServer]
) -> None:
    url, proxy = proxy_for(
        {"to_new": {"hook": "tests.auth.bridge:legacy_to_new"}},
        routes=[{"route": "GET /api/me", "mode": "new"}, {"route": "POST /api/login"}],
    )
    token = apps.legacy_token("ada")  # issued by legacy before the proxy ever saw it
    before = bridge.CALLS["to_new"]
    for _ in range(50):
        resp = httpx.get(f"{url}/api/me", headers={"authorization": f"Bearer {token}"})
        assert resp.status_code == 200, resp.text
        assert resp.headers["x-served-by"] == "new"
        assert resp.json()["user"] == "ada"
    assert bridge.CALLS["to_new"] - before == 1  # cached by the token's hash
    assert (
        proxy.metrics.value("strangler_auth_bridge_total", domain="users", outcome="translated")
        == 1
    )


def test_pin_keeps_each_client_on_the_side_that_issued_its_credential(proxy_for: Any) -> None:
    url, _ = proxy_for({"to_new": "pin", "to_legacy": "pin"})
    for n in range(20):
        with httpx.Client(base_url=url, timeout=10) as client:
            login = client.post("/api/login", json={"user": USERS[n % 3]})
            issuer = login.headers["x-served-by"]
            auth = {"authorization": f"Bearer {login.json()['token']}"}
            # A fresh client without the cohort cookie: only the pin keeps it on its side.
            client.cookies.clear()
            for path in ("/api/me", "/api/orders", "/api/me"):
                resp = client.get(path, headers=auth)
                assert resp.status_code == 200, resp.text
                assert resp.headers["x-served-by"] == issuer


def test_rollback_mid_canary_keeps_sessions_started_on_new_working(proxy_for: Any) -> None:
    url, proxy = proxy_for(
        {
            "to_new": {"hook": "tests.auth.bridge:legacy_to_new"},
            "to_legacy": {"hook": "tests.auth.bridge:new_to_legacy"},
        },
        routes=[
            {"route": "POST /api/login", "mode": "new"},
            {"route": "GET /api/me", "mode": "new"},
        ],
    )
    tokens = []
    for user in USERS:
        login = httpx.post(f"{url}/api/login", json={"user": user})
        assert login.headers["x-served-by"] == "new"
        tokens.append((user, login.json()["token"]))
    rolled = parse_config(
        {
            **proxy.config.model_dump(exclude={"source"}, mode="json"),
            "routes": [
                {"route": "POST /api/login", "mode": "legacy"},
                {"route": "GET /api/me", "mode": "legacy"},
            ],
        },
        source=proxy.config.source,
    )
    proxy.swap_table(RouteTable.build(rolled))
    for user, token in tokens:
        resp = httpx.get(f"{url}/api/me", headers={"authorization": f"Bearer {token}"})
        assert resp.headers["x-served-by"] == "legacy"
        assert resp.status_code == 200, resp.text
        assert resp.json()["user"] == user


def test_an_exchange_endpoint_bridges_and_a_failed_exchange_is_a_clear_502(
    proxy_for: Any, sides: tuple[LiveServer, LiveServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    new = sides[1]
    monkeypatch.setenv("EXCHANGE_SECRET", "exchange-secret")
    exchange = {"exchange": {"url": f"{new.url}/token-exchange", "secret_env": "EXCHANGE_SECRET"}}
    url, _ = proxy_for({"to_new": exchange}, routes=[{"route": "GET /api/me", "mode": "new"}])
    calls = len(new.server.config.app.state.exchanges)
    for user in USERS * 10:
        token = apps.legacy_token(user)
        resp = httpx.get(f"{url}/api/me", headers={"authorization": f"Bearer {token}"})
        assert resp.status_code == 200, resp.text
        assert resp.json()["user"] == user
    assert len(new.server.config.app.state.exchanges) - calls == len(USERS)

    resp = httpx.get(f"{url}/api/me", headers={"authorization": "Bearer L.eve.forged"})
    assert resp.status_code == 502
    body = resp.json()
    assert body["error"] == "auth_bridge_failed"
    assert body["domain"] == "users"
    assert "400" in body["detail"]
    assert "forged" not in resp.text  # the credential is never echoed


def test_a_failed_exchange_in_a_canary_falls_back_to_legacy(
    proxy_for: Any, sides: tuple[LiveServer, LiveServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXCHANGE_SECRET", "wrong")
    exchange = {
        "exchange": {"url": f"{sides[1].url}/token-exchange", "secret_env": "EXCHANGE_SECRET"}
    }
    url, _ = proxy_for(
        {"to_new": exchange},
        routes=[{"route": "GET /api/me", "mode": "canary", "percent": 100}],
    )
    resp = httpx.get(
        f"{url}/api/me", headers={"authorization": f"Bearer {apps.legacy_token('cy')}"}
    )
    assert resp.status_code == 200
    assert resp.headers["x-served-by"] == "legacy"


def test_a_session_cookie_app_bridged_to_a_jwt_app(
    proxy_for: Any, sides: tuple[LiveServer, LiveServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEGACY_URL", sides[0].url)
    url, _ = proxy_for(
        {"credential": "cookie:SESSIONID", "to_new": {"hook": "tests.auth.bridge:session_to_new"}},
        routes=[
            {"route": "POST /api/session", "mode": "legacy"},
            {"route": "GET /api/orders", "mode": "new"},
        ],
    )
    with httpx.Client(base_url=url, timeout=10) as client:
        login = client.post("/api/session", json={"user": "ada"})
        assert login.headers["x-served-by"] == "legacy"
        resp = client.get("/api/orders")
        assert resp.headers["x-served-by"] == "new"
        assert resp.status_code == 200, resp.text
        assert resp.json() == {"user": "ada", "orders": [1, 2]}


def test_shadow_with_a_bridge_reaches_full_parity_and_still_reports_a_real_difference(
    sides: tuple[LiveServer, LiveServer], tmp_path: Path
) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    domain = {"to_new": {"hook": "tests.auth.bridge:legacy_to_new"}}
    routes = [
        {"route": "GET /api/me", "mode": "shadow"},
        {"route": "GET /api/orders", "mode": "shadow"},
    ]
    cfg = _config(
        sides,
        domain,
        routes=routes,
        store=store_url,
        shadow={"noise_sample": 0},
        rules={"headers": {"ignore": ["x-served-by"]}},  # the test apps' own marker
    )
    store = Store(cfg.store)
    store.ensure_schema()
    proxy = Proxy(cfg)
    runner = attach_shadow(proxy, cfg, store)
    live = start_server(proxy)
    try:
        sent = 0
        for user in USERS * 4:
            auth = {"authorization": f"Bearer {apps.legacy_token(user)}"}
            for path in ("/api/me", "/api/orders"):
                assert httpx.get(f"{live.url}{path}", headers=auth).status_code == 200
                sent += 1
        _settle(runner, sent)
        with store.session() as s:
            fields = {
                (r.route, r.field): r.mismatches for r in s.scalars(select(ShadowFieldRow)).all()
            }
        assert ("GET /api/me", "auth") not in fields
        assert not any(route == "GET /api/me" for route, _ in fields), fields
        # bob's orders differ on new: a real difference, found through the bridge
        assert fields.get(("GET /api/orders", "$.orders[*]")) or fields.get(
            ("GET /api/orders", "$.orders")
        ), fields
        assert not any(field in ("auth", "status") for _, field in fields)
    finally:
        live.stop()
        store.close()


def test_shadow_without_a_bridge_classes_the_difference_as_auth(
    sides: tuple[LiveServer, LiveServer], tmp_path: Path
) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    cfg = _config(sides, {}, routes=[{"route": "GET /api/me", "mode": "shadow"}], store=store_url)
    store = Store(cfg.store)
    store.ensure_schema()
    proxy = Proxy(cfg)
    runner = attach_shadow(proxy, cfg, store)
    live = start_server(proxy)
    try:
        auth = {"authorization": f"Bearer {apps.legacy_token('ada')}"}
        for _ in range(5):
            assert httpx.get(f"{live.url}/api/me", headers=auth).status_code == 200
        _settle(runner, 5)
        with store.session() as s:
            rows = {r.field: r for r in s.scalars(select(ShadowFieldRow)).all()}
        assert set(rows) == {"auth"}
        assert rows["auth"].mismatches == 5
        # and readiness names the missing bridge, once
        verdict = readiness_of(cfg, store)["GET /api/me"]
        auth_blockers = [b for b in verdict.blockers if b.startswith("auth:")]
        assert len(auth_blockers) == 1
        assert "auth domain 'users'" in auth_blockers[0]
        assert "auth.domains[0].to_new" in auth_blockers[0]
        assert "5 of 5 compared requests refused (401/403) by one side only" in auth_blockers[0]
        # parity is judged without the refusals: they are said once, as auth
        assert not [b for b in verdict.blockers if b.startswith("parity:")], verdict.blockers
    finally:
        live.stop()
        store.close()


def test_credentials_are_never_stored_or_logged(
    sides: tuple[LiveServer, LiveServer], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store_file = tmp_path / "store.db"
    cfg = _config(
        sides,
        {"to_new": {"hook": "tests.auth.bridge:legacy_to_new"}},
        routes=[{"route": "GET /api/orders", "mode": "shadow"}],
        store=f"sqlite:///{store_file}",
        shadow={"noise_sample": 0},
    )
    store = Store(cfg.store)
    store.ensure_schema()
    proxy = Proxy(cfg)
    runner = attach_shadow(proxy, cfg, store)
    live = start_server(proxy)
    token = apps.legacy_token("bob")
    try:
        httpx.get(f"{live.url}/api/orders", headers={"authorization": f"Bearer {token}"})
        _settle(runner, 1)
    finally:
        live.stop()
        store.close()
    stored = store_file.read_bytes()
    sig = token.rsplit(".", 1)[1]
    assert sig.encode() not in stored
    assert sig not in caplog.text


@pytest.mark.parametrize("bridged", [False, True])
def test_a_flip_to_canary_needs_a_bridge_towards_new(
    sides: tuple[LiveServer, LiveServer], tmp_path: Path, bridged: bool
) -> None:
    domain = {"to_new": "pin"} if bridged else {}
    cfg = _config(
        sides,
        domain,
        routes=[{"route": "GET /api/me", "mode": "shadow"}],
        store=f"sqlite:///{tmp_path / 'store.db'}",
        readiness={"min_compared": 0},
    )
    store = Store(cfg.store)
    store.ensure_schema()
    try:
        if bridged:
            flip = flip_route(cfg, store, "GET /api/me", "canary", Decimal(5), "pinned users")
            assert flip.to_mode == "canary"
            return
        with pytest.raises(FlipRefused) as info:
            flip_route(cfg, store, "GET /api/me", "canary", Decimal(5), "try it")
        blockers = [b for b in info.value.blockers if b.startswith("auth:")]
        assert blockers == [
            "auth: the route is in auth domain 'users', which has no bridge towards new "
            "(needs auth.domains[0].to_new: {hook: 'module:function'}, {exchange: {url: ...}} "
            "or pin; see docs/auth.md)"
        ]
    finally:
        store.close()
