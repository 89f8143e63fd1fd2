"""strangler.control: the typed flip and the routes overview, on real stores."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from strangler import InvalidFlip, RouteError
from strangler.config import Config, parse_config
from strangler.control import flip_route, open_store, parse_percent, routes_overview

ROUTE = "GET /orgs/{slug}"


def _config(store_url: str) -> Config:
    return parse_config(
        {
            "legacy": "http://127.0.0.1:9",
            "new": "http://127.0.0.1:9",
            "store": store_url,
            "readiness": {"min_compared": 0},  # no traffic: gates judge nothing
            "routes": [
                {"route": ROUTE},
                {"route": "GET /forms", "mode": "canary", "percent": "7.5"},
            ],
        }
    )


def test_flip_route_walks_the_lifecycle(sqlite_url: str) -> None:
    cfg = _config(sqlite_url)
    store = open_store(cfg)
    try:
        steps = [("shadow", None), ("canary", Decimal(5)), ("canary", Decimal(50)), ("new", None)]
        for mode, percent in steps:
            flip_route(cfg, store, "get /orgs/{slug}", mode, percent, f"to {mode}", actor="ops")
        log = store.history(ROUTE)
        assert [(f.from_mode, f.to_mode, f.to_percent) for f in reversed(log)] == [
            ("legacy", "shadow", None),
            ("shadow", "canary", Decimal(5)),
            ("canary", "canary", Decimal(50)),
            ("canary", "new", None),
        ]
        assert {f.actor for f in log} == {"ops"}
        overview = routes_overview(cfg, store)
        first = overview.routes[0]
        assert (first.mode, first.percent, first.differs) == ("new", None, True)
        assert first.last_flip is not None
        assert first.last_flip.reason == "to new"
        assert overview.version == 4
        second = overview.routes[1]
        assert (second.mode, second.percent, second.differs) == ("canary", Decimal("7.5"), False)
    finally:
        store.close()


def test_first_flip_from_a_configured_canary_records_its_percent(sqlite_url: str) -> None:
    cfg = _config(sqlite_url)
    store = open_store(cfg)
    try:
        done = flip_route(cfg, store, "GET /forms", "legacy", None, "rollback", force=True)
        assert (done.from_mode, done.from_percent, done.forced) == ("canary", Decimal("7.5"), True)
    finally:
        store.close()


def test_flip_route_refusals_record_nothing(sqlite_url: str) -> None:
    cfg = _config(sqlite_url)
    store = open_store(cfg)
    try:
        with pytest.raises(RouteError) as unknown:
            flip_route(cfg, store, "GET /missing", "new", None, "x")
        assert unknown.value.known == (ROUTE, "GET /forms")
        with pytest.raises(InvalidFlip, match=r"already in mode canary 7\.5%"):
            flip_route(cfg, store, "GET /forms", "canary", Decimal("7.50"), "x")
        with pytest.raises(InvalidFlip, match="reason is required"):
            flip_route(cfg, store, ROUTE, "new", None, "")
        assert store.history() == []
        assert store.version() == 0
    finally:
        store.close()


@pytest.mark.parametrize(
    ("text", "value"), [("5", Decimal(5)), ("12.5%", Decimal("12.5")), ("0", Decimal(0))]
)
def test_parse_percent_accepts(text: str, value: Decimal) -> None:
    assert parse_percent("GET /a", text) == value


@pytest.mark.parametrize("text", ["-1", "100.01", "nan", "inf", "1e-3", "five"])
def test_parse_percent_refuses(text: str) -> None:
    with pytest.raises(InvalidFlip):
        parse_percent("GET /a", text)


@pytest.mark.postgres
def test_flip_on_postgres_notifies_listeners(postgres_url: str) -> None:
    """Every flip sends NOTIFY on strangler_flips, which proxies LISTEN to."""
    import psycopg
    from sqlalchemy.engine import make_url

    cfg = _config(postgres_url)
    store = open_store(cfg)
    conninfo = make_url(postgres_url).set(drivername="postgresql").render_as_string(False)

    async def listen_then_flip() -> list[str]:
        async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
            await conn.execute("LISTEN strangler_flips")
            await asyncio.to_thread(flip_route, cfg, store, ROUTE, "new", None, "go")
            got = []
            async for note in conn.notifies(timeout=10, stop_after=1):
                got.append(note.channel)
            return got

    try:
        assert asyncio.run(listen_then_flip()) == ["strangler_flips"]
        assert routes_overview(cfg, store).routes[0].mode == "new"
    finally:
        store.close()
