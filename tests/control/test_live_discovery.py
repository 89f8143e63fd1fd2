"""Live discovery end to end: a legacy app with endpoints the config does not declare,
behind a real `strangler serve`; `strangler surface --json` lists exactly the templates a
person would write, with the right shares, and no raw identifier reaches the store or the
proxy's log. A flood of random paths keeps the proxy's memory within its bounds."""

from __future__ import annotations

import json
import random
import re
import signal
import sqlite3
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from strangler._types import Receive, Scope, Send
from strangler.admin import cutover_components
from strangler.cli import main
from strangler.config import parse_config
from strangler.discovery import OTHER
from strangler.lifecycle import Lifecycle
from strangler.proxy import Proxy
from strangler.store import Store
from strangler.store.discovered import discovered_activity
from tests.conftest import LiveServer, start_server
from tests.control.conftest import ProxyProcess, wait_ready

ORGS = ["acme-relief", "hope-trust", "river-care", "open-arms", "food-bank", "safe-haven",
        "clean-water", "kind-hearts"]  # fmt: skip
WORDS = ["quiet", "golden", "winter", "bright", "little", "silver", "hidden", "gentle",
         "northern", "humble"]  # fmt: skip
ARTICLES = [f"{a}-{b}-garden" for a in WORDS for b in WORDS]  # 100 slugs, no digits

LEGACY_ENDPOINTS = [
    ("GET", re.compile(r"/orders/\d+")),
    ("POST", re.compile(r"/orders")),
    ("GET", re.compile(r"/invoices/[0-9a-f-]{36}")),
    ("GET", re.compile(r"/orgs/[a-z-]+")),
    ("GET", re.compile(r"/orgs/[a-z-]+/donations/\d+")),
    ("GET", re.compile(r"/articles/[a-z-]+")),
    ("GET", re.compile(r"/health")),
    ("GET", re.compile(r"/x[0-9a-f]{8}z/y[0-9a-f]{8}z")),  # a flood of distinct paths
]


async def legacy_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The legacy service: its endpoints answer 200, anything else 404."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    known = any(m == scope["method"] and p.fullmatch(scope["path"]) for m, p in LEGACY_ENDPOINTS)
    body = b'{"ok": true}' if known else b'{"error": "not found"}'
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200 if known else 404, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _traffic(rng: random.Random) -> tuple[list[tuple[str, str]], dict[str, int]]:
    """The requests to send (shuffled) and how many each endpoint gets, as a person would
    name it."""
    plan: dict[str, list[tuple[str, str]]] = {
        "GET /orders/{order_id}": [("GET", f"/orders/{rng.randrange(1, 10**7)}") for _ in range(300)],
        "POST /orders": [("POST", "/orders")] * 50,
        "GET /invoices/{invoice_id}": [("GET", f"/invoices/{uuid.uuid4()}") for _ in range(100)],
        "GET /orgs/{org}": [("GET", f"/orgs/{ORGS[i % 8]}") for i in range(50)],
        "GET /orgs/{org}/donations/{donation_id}": [
            ("GET", f"/orgs/{ORGS[i % 8]}/donations/{rng.randrange(1, 10**6)}") for i in range(200)
        ],
        "GET /articles/{article}": [("GET", f"/articles/{ARTICLES[i % 100]}") for i in range(150)],
        "GET /health": [("GET", "/health")] * 100,  # declared
    }  # fmt: skip
    requests = [r for sent in plan.values() for r in sent]
    rng.shuffle(requests)
    return requests, {route: len(sent) for route, sent in plan.items()}


def _send(
    url: str, requests: list[tuple[str, str]], threads: int = 4, *, fresh: bool = False
) -> None:
    """Send ``requests`` from ``threads`` clients (``fresh``: a new connection each, so the
    kernel spreads them over the workers); every one must answer 200."""
    limits = httpx.Limits(max_keepalive_connections=0 if fresh else 20)

    def client(part: list[tuple[str, str]]) -> None:
        with httpx.Client(timeout=30, limits=limits) as c:
            for method, path in part:
                assert c.request(method, url + path).status_code == 200, path

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(client, [requests[i::threads] for i in range(threads)]))


def _config(path: Path, legacy: str, store: str) -> Path:
    path.write_text(
        f"legacy: {legacy}\nnew: {legacy}\nstore: {json.dumps(store)}\n"
        "admin:\n  port: 0\nrollback:\n  enabled: false\n"
        'routes:\n  - route: "GET /health"\n    mode: legacy\n',
        encoding="utf-8",
    )
    return path


def _stored_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))


def test_the_surface_lists_the_endpoints_the_proxy_discovered(
    serve: Callable[..., LiveServer],
    start_proxy: Callable[..., ProxyProcess],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    legacy = serve(legacy_app)
    db = tmp_path / "store.db"
    config = _config(tmp_path / "strangler.yaml", legacy.url, f"sqlite:///{db}")
    proxy = start_proxy(config)
    wait_ready(proxy)  # GET /ready-check: a 404, no endpoint
    requests, expected = _traffic(random.Random(15))
    _send(proxy.url, requests)
    proxy.process.send_signal(signal.SIGTERM)  # a graceful stop writes what is pending
    proxy.process.wait(timeout=60)

    capsys.readouterr()
    assert main(["surface", "-c", str(config), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    entries = {e["route"]: e for e in data["entries"]}
    discovered = {r: e["served_week"] for r, e in entries.items() if e["source"] == "live"}
    assert discovered == {r: n for r, n in expected.items() if r != "GET /health"}
    assert entries["GET /health"]["served_week"] == 100
    rest = entries.get("* /{path:path}", {"served_week": 0})["served_week"]
    assert rest <= 5, "only the readiness probes' 404s are the catch-all's rest"
    total = len(requests) + rest
    for route, sent in expected.items():
        assert entries[route]["share_week"] == pytest.approx(sent / total)
        assert entries[route]["share_day"] == pytest.approx(sent / total)
        assert entries[route]["last_seen"] is not None
    orders = entries["GET /orders/{order_id}"]
    assert (orders["declared"], orders["mode"]) == (False, "legacy")
    assert orders["next_step"].startswith("declare it and shadow it")

    assert main(["surface", "-c", str(config)]) == 0
    assert "GET /orgs/{org}/donations/{donation_id}  (discovered)" in capsys.readouterr().out

    stored, logged = _stored_bytes(db), proxy.output()
    for path in {p for _, p in requests} - {"/orders", "/health"}:  # each with an identifier
        assert path.encode() not in stored
    for word in [*ORGS, *ARTICLES, *(p.rsplit("/", 1)[1] for _, p in requests if "invoices" in p)]:
        assert word.encode() not in stored, f"{word} reached the store"
        assert word not in logged, f"{word} reached the proxy's log"


@pytest.mark.slow
def test_two_workers_each_record_their_own_and_the_surface_sums_them(
    serve: Callable[..., LiveServer],
    start_proxy: Callable[..., ProxyProcess],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    legacy = serve(legacy_app)
    db = tmp_path / "store.db"
    config = _config(tmp_path / "strangler.yaml", legacy.url, f"sqlite:///{db}")
    runs = tmp_path / "tmp"
    runs.mkdir()
    monkeypatch.setenv("TMPDIR", str(runs))  # the child's run dir
    proxy = start_proxy(config, "--workers", "2")
    wait_ready(proxy, deadline=120)
    requests, expected = _traffic(random.Random(2))
    _send(proxy.url, requests, threads=8, fresh=True)  # a new connection each: both workers
    proxy.process.send_signal(signal.SIGTERM)  # each worker writes what it holds
    proxy.process.wait(timeout=90)

    with sqlite3.connect(db) as conn:
        instances = conn.execute("SELECT COUNT(DISTINCT instance) FROM discovered_minutes")
        assert instances.fetchone()[0] == 2, proxy.output()
    capsys.readouterr()
    assert main(["surface", "-c", str(config), "--json"]) == 0
    entries = json.loads(capsys.readouterr().out)["entries"]
    discovered = {e["route"]: e["served_week"] for e in entries if e["source"] == "live"}
    assert discovered == {r: n for r, n in expected.items() if r != "GET /health"}


def test_a_flood_of_random_paths_keeps_memory_bounded(
    serve: Callable[..., LiveServer], tmp_path: Path
) -> None:
    """A real proxy with a small sample and tree: 1,500 distinct random paths around real
    traffic from four clients; the sample never holds more than its cap, the tree never
    more nodes than its bound, every request is counted (scaled) and the real endpoint
    keeps its share."""
    legacy = serve(legacy_app)
    cfg = parse_config(
        {"legacy": legacy.url, "new": legacy.url, "store": f"sqlite:///{tmp_path / 's.db'}",
         "admin": {"port": 0}, "rollback": {"enabled": False}}
    )  # fmt: skip
    store = Store(cfg.store)
    store.ensure_schema()
    proxy = Proxy(cfg)
    attached, components = cutover_components(proxy, cfg, store, traffic_interval=0.5)
    recorder = attached.discovery
    recorder.sample.cap = 30
    recorder.templates.tree.max_nodes = 100
    life = Lifecycle(components)
    proxy.on_startup.append(life.start)
    proxy.on_shutdown.append(life.stop)
    server = start_server(proxy)
    since = datetime.now(UTC) - timedelta(minutes=1)
    rng = random.Random(3)
    paths = [
        f"/orders/{rng.randrange(10**6)}"
        if i % 6 == 0  # else distinct random words, answered 200 by legacy
        else f"/x{rng.randrange(16**8):08x}z/y{rng.randrange(16**8):08x}z"
        for i in range(1_800)
    ]
    seen: list[tuple[int, int]] = []

    def client(part: list[str]) -> None:
        with httpx.Client(timeout=30) as c:
            for path in part:
                assert c.get(server.url + path).status_code == 200
                seen.append((len(recorder.sample.requests), recorder.templates.tree.nodes))

    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(client, [paths[i::4] for i in range(4)]))
    finally:
        server.stop()
        store.close()
    assert max(s for s, _ in seen) <= 30
    assert max(n for _, n in seen) <= 100
    assert recorder.sampled_out > 0, "the flood was sampled"
    store = Store(cfg.store)
    found = discovered_activity(store, since, since)
    store.close()
    assert sum(week for _, week, _ in found.values()) == 1_800
    assert found[("GET", "/orders/{order_id}")][1] >= 100  # 300 sent, an estimate from samples
    assert ("GET", OTHER) in found
