"""Each mode through a real proxy: who answers, who is called, and the canary fallback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shadow.exchange import CapturedRequest, CapturedResponse
from strangler.proxy import Proxy
from strangler.routing import RouteTable
from tests.proxy.conftest import Proxied


def side_of(resp: Any) -> str:
    return str(resp.json()["side"])


def test_unmatched_requests_go_to_legacy(proxied: Callable[..., Proxied]) -> None:
    p = proxied([{"route": "GET /echo/{x}", "mode": "new"}])
    assert side_of(p.get("/echo/a")) == "new"
    assert side_of(p.get("/echo/a/b")) == "legacy"  # no route: the catch-all
    assert side_of(p.request("POST", "/echo/a")) == "legacy"  # method not in the route


def test_legacy_new_and_retired(proxied: Callable[..., Proxied]) -> None:
    p = proxied(
        [
            {"route": "GET /echo/old", "mode": "legacy"},
            {"route": "GET /echo/fresh", "mode": "new"},
            {"route": "GET /echo/gone", "mode": "retired"},
        ]
    )
    assert side_of(p.get("/echo/old")) == "legacy"
    assert side_of(p.get("/echo/fresh")) == "new"
    before = len(p.legacy.calls)
    assert side_of(p.get("/echo/gone")) == "new"
    assert len(p.legacy.calls) == before


def test_retired_never_falls_back_to_legacy(proxied: Callable[..., Proxied], dead_url: str) -> None:
    p = proxied([{"route": "GET /echo/gone", "mode": "retired"}], new=dead_url)
    resp = p.get("/echo/gone")
    assert resp.status_code == 502
    assert resp.json() == {
        "error": "upstream_connect_error",
        "backend": "new",
        "route": "GET /echo/gone",
    }
    assert p.legacy.calls == []


def test_canary_is_sticky_and_splits(proxied: Callable[..., Proxied]) -> None:
    p = proxied(
        [{"route": "GET /echo/c", "mode": "canary", "percent": 50, "sticky": "header:X-User"}]
    )
    seen: dict[str, str] = {}
    with p.client() as c:
        for i in range(40):
            seen[f"u{i}"] = side_of(c.get("/echo/c", headers={"X-User": f"u{i}"}))
        for i in range(40):  # again: every user lands where it landed before
            assert side_of(c.get("/echo/c", headers={"X-User": f"u{i}"})) == seen[f"u{i}"]
    assert set(seen.values()) == {"legacy", "new"}


def test_canary_zero_and_hundred(proxied: Callable[..., Proxied]) -> None:
    p = proxied(
        [
            {"route": "GET /echo/none", "mode": "canary", "percent": 0},
            {"route": "GET /echo/all", "mode": "canary", "percent": 100},
        ]
    )
    with p.client() as c:
        assert {side_of(c.get("/echo/none")) for _ in range(20)} == {"legacy"}
        assert {side_of(c.get("/echo/all")) for _ in range(20)} == {"new"}


def test_canary_falls_back_when_new_cannot_be_reached(
    proxied: Callable[..., Proxied], dead_url: str
) -> None:
    p = proxied(
        [{"route": "GET,POST /echo/c", "mode": "canary", "percent": 100}],
        new=dead_url,
    )
    assert side_of(p.get("/echo/c")) == "legacy"
    # Nothing reached new, so even a POST is replayed, body included.
    resp = p.request("POST", "/echo/c", content=b"pay=1")
    assert side_of(resp) == "legacy"
    assert resp.json()["body"] == "pay=1"
    assert (
        p.proxy.metrics.value(
            "strangler_fallbacks_total", route="GET,POST /echo/c", reason="upstream_connect_error"
        )
        == 2.0
    )


def test_canary_falls_back_on_5xx_for_safe_methods_only(proxied: Callable[..., Proxied]) -> None:
    p = proxied([{"route": "GET,POST /status/{code}", "mode": "canary", "percent": 100}])
    resp = p.get("/status/503")
    assert resp.status_code == 503
    assert resp.text == "legacy says 503"  # new failed, legacy answered (with its own 503)
    assert [c.path for c in p.new.calls] == ["/status/503"]
    resp = p.request("POST", "/status/500", content=b"charge")
    assert resp.text == "new says 500"  # a POST that reached new is never replayed
    assert [c.method for c in p.legacy.calls] == ["GET"]
    assert (
        p.proxy.metrics.value(
            "strangler_fallbacks_total", route="GET,POST /status/{code}", reason="status_5xx"
        )
        == 1.0
    )


def test_canary_keeps_a_safe_request_body_for_the_replay(proxied: Callable[..., Proxied]) -> None:
    p = proxied([{"route": "* /status/{code}", "mode": "canary", "percent": 100}])
    resp = p.request("OPTIONS", "/status/500", content=b"q" * 70_000)
    assert resp.text == "legacy says 500"
    assert p.legacy.calls[-1].body == b"q" * 70_000
    assert p.new.calls[-1].body == b"q" * 70_000


def test_shadow_serves_legacy_and_hands_the_exchange_to_the_sink(
    proxied: Callable[..., Proxied],
) -> None:
    got: list[tuple[CapturedRequest, str, CapturedResponse, str]] = []

    def setup(proxy: Proxy) -> None:
        proxy.shadow_sink = lambda ex, other: got.append(
            (ex.request, ex.primary_side, ex.primary, other)
        )

    p = proxied(
        [
            {"route": "POST /echo/s", "mode": "shadow"},
            {"route": "GET /echo/r", "mode": "new", "shadow": {"reverse": True}},
            {"route": "GET /echo/plain", "mode": "new"},
        ],
        setup=setup,
    )
    resp = p.request("POST", "/echo/s?x=1", content=b"hello", headers={"X-A": "1"})
    assert side_of(resp) == "legacy"
    assert p.new.calls == []  # the proxy itself never calls the shadow side
    req, primary, answer, other = got[0]
    assert (req.method, req.path, req.query, req.body) == ("POST", "/echo/s", "x=1", b"hello")
    assert req.route == "POST /echo/s"
    assert req.header("x-a") == "1"
    assert (primary, other) == ("legacy", "new")
    assert answer.status == 200
    assert answer.body == resp.content
    assert answer.header("content-type") == "application/json"

    assert side_of(p.get("/echo/r")) == "new"
    assert (got[1][1], got[1][3]) == ("new", "legacy")
    p.get("/echo/plain")
    assert len(got) == 2  # not shadowed: nothing handed over


def test_shadow_bodies_over_the_cap_are_none(proxied: Callable[..., Proxied]) -> None:
    got: list[tuple[CapturedRequest, CapturedResponse]] = []

    def setup(proxy: Proxy) -> None:
        proxy.shadow_sink = lambda ex, other: got.append((ex.request, ex.primary))

    p = proxied([{"route": "POST /echo/s", "mode": "shadow"}], shadow={"body_cap": 64}, setup=setup)
    resp = p.request("POST", "/echo/s", content=b"x" * 100)
    assert resp.status_code == 200
    assert len(resp.content) > 64
    assert got[0][0].body is None
    assert got[0][1].body is None


def test_swap_table_changes_routing_at_once(proxied: Callable[..., Proxied]) -> None:
    p = proxied([{"route": "GET /echo/x", "mode": "legacy"}])
    assert side_of(p.get("/echo/x")) == "legacy"
    from strangler.store import RouteState

    state = RouteState("GET /echo/x", "new", None, False, None, None)  # type: ignore[arg-type]
    p.proxy.swap_table(RouteTable.build(p.proxy.config, {"GET /echo/x": state}, version=2))
    assert side_of(p.get("/echo/x")) == "new"
    assert p.proxy.table.version == 2


def test_metrics_count_answers_per_route_and_side(proxied: Callable[..., Proxied]) -> None:
    p = proxied([{"route": "GET /echo/m", "mode": "new"}])
    for _ in range(3):
        p.get("/echo/m")
    p.get("/elsewhere")
    m = p.proxy.metrics
    assert (
        m.value(
            "strangler_requests_total", route="GET /echo/m", mode="new", side="new", status="2xx"
        )
        == 3.0
    )
    assert (
        m.value(
            "strangler_requests_total",
            route="* /{path:path}",
            mode="legacy",
            side="legacy",
            status="2xx",
        )
        == 1.0
    )
    assert b'strangler_request_seconds_count{route="GET /echo/m",side="new"} 3.0' in m.exposition()
