"""The route table and the mode decision: pure, no servers."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from strangler.config import Config, parse_config
from strangler.routing import BUCKETS, CATCH_ALL, RouteTable, decide, sticky_key
from strangler.store import RouteState


def config(*routes: dict[str, Any], **extra: Any) -> Config:
    return parse_config(
        {
            "legacy": "http://127.0.0.1:1",
            "new": "http://127.0.0.1:2",
            "routes": list(routes),
            **extra,
        }
    )


def table(*templates: str) -> RouteTable:
    return RouteTable.build(config(*({"route": t} for t in templates)))


def key_of(t: RouteTable, method: str, path: str) -> str | None:
    m = t.match(method, path)
    return m.route.key if m else None


def test_params_and_rest_are_bound() -> None:
    t = table("GET /orgs/{slug}/forms/{form_id}", "GET /files/{rest:path}")
    m = t.match("GET", "/orgs/acme/forms/7")
    assert m is not None
    assert m.params == {"slug": "acme", "form_id": "7"}
    m = t.match("GET", "/files/a/b/c.txt")
    assert m is not None
    assert m.params == {"rest": "a/b/c.txt"}


def test_a_param_is_exactly_one_non_empty_segment() -> None:
    t = table("GET /orgs/{slug}")
    assert key_of(t, "GET", "/orgs/acme") == "GET /orgs/{slug}"
    assert key_of(t, "GET", "/orgs/") is None
    assert key_of(t, "GET", "/orgs/acme/forms") is None
    assert key_of(t, "GET", "/orgs") is None


def test_static_beats_param_beats_rest() -> None:
    t = table("GET /orgs/{slug}", "GET /orgs/new", "GET /orgs/{rest:path}")
    assert key_of(t, "GET", "/orgs/new") == "GET /orgs/new"
    assert key_of(t, "GET", "/orgs/acme") == "GET /orgs/{slug}"
    assert key_of(t, "GET", "/orgs/acme/x") == "GET /orgs/{rest:path}"


def test_first_segment_decides_before_later_ones() -> None:
    t = table("GET /{tenant}/settings", "GET /api/{anything}")
    assert key_of(t, "GET", "/api/settings") == "GET /api/{anything}"
    assert key_of(t, "GET", "/acme/settings") == "GET /{tenant}/settings"


def test_longer_rest_template_beats_shorter() -> None:
    t = table("GET /a/{rest:path}", "GET /a/b/{rest:path}")
    assert key_of(t, "GET", "/a/b/c") == "GET /a/b/{rest:path}"
    assert key_of(t, "GET", "/a/x/c") == "GET /a/{rest:path}"


def test_a_methods_list_beats_star_and_methods_are_respected() -> None:
    t = table("* /orgs/{slug}", "GET,HEAD /orgs/{slug}")
    assert key_of(t, "GET", "/orgs/a") == "GET,HEAD /orgs/{slug}"
    assert key_of(t, "HEAD", "/orgs/a") == "GET,HEAD /orgs/{slug}"
    assert key_of(t, "DELETE", "/orgs/a") == "* /orgs/{slug}"
    t = table("GET /orgs/{slug}", "POST /orgs/{slug}/x")
    assert key_of(t, "POST", "/orgs/a") is None  # falls to the catch-all


def test_unmatched_gets_the_legacy_catch_all() -> None:
    t = table("GET /a")
    assert t.match("GET", "/b") is None
    resolved = t.resolve("GET", "/b")
    assert resolved.route.key == CATCH_ALL
    assert resolved.route.mode == "legacy"


def test_root_and_trailing_slash_are_distinct() -> None:
    t = table("GET /", "GET /a/")
    assert key_of(t, "GET", "/") == "GET /"
    assert key_of(t, "GET", "/a/") == "GET /a/"
    assert key_of(t, "GET", "/a") is None


def test_live_state_overrides_the_file() -> None:
    cfg = config({"route": "GET /a", "mode": "legacy"}, {"route": "GET /b", "mode": "legacy"})
    now = datetime.now(UTC)
    live = {
        "GET /a": RouteState("GET /a", "canary", Decimal("12.5"), False, now, 1),
        "GET /gone": RouteState("GET /gone", "new", None, False, now, 2),
    }
    t = RouteTable.build(cfg, live, version=7)
    a, b = t.get("GET /a"), t.get("GET /b")
    assert a is not None
    assert b is not None
    assert (a.mode, a.percent, a.live, a.threshold) == ("canary", Decimal("12.5"), True, 1250)
    assert (b.mode, b.live) == ("legacy", False)
    assert t.version == 7
    assert t.get("GET /gone") is None  # not in the file: not served by its own rules


def canary(percent: float | str, sticky: str | None = "header:X-User") -> Any:
    route = {"route": "GET /c", "mode": "canary", "percent": percent}
    if sticky:
        route["sticky"] = sticky
    return RouteTable.build(config(route)).routes[0]


def test_sticky_key_always_lands_on_the_same_side() -> None:
    route = canary(30)
    rng = random.Random(1)
    for i in range(500):
        first = decide(route, f"user-{i}", rng.random)
        again = decide(route, f"user-{i}", rng.random)
        assert first == again


def test_observed_share_is_close_to_the_percent() -> None:
    for percent in (1, 12.5, 50, 90):
        route = canary(percent)
        to_new = sum(decide(route, f"k{i}", random.random).primary == "new" for i in range(20_000))
        share = to_new / 20_000 * 100
        assert abs(share - percent) < 1.0, (percent, share)


def test_raising_the_percent_only_adds_keys() -> None:
    keys = [f"user-{i}" for i in range(5000)]
    previous: set[str] = set()
    for percent in ("0.5", "5", "10", "27.25", "60", "100"):
        route = canary(percent)
        now_in = {k for k in keys if decide(route, k, random.random).primary == "new"}
        assert previous <= now_in, f"a key left new when going to {percent}%"
        previous = now_in
    assert previous == set(keys)


def test_keyless_canary_is_random_per_request() -> None:
    route = canary(25, sticky=None)
    values = iter([0.1, 0.3, 0.2499, 0.25])
    assert [decide(route, None, lambda: next(values)).primary for _ in range(4)] == [
        "new",
        "legacy",
        "new",
        "legacy",
    ]


def test_buckets_differ_between_routes() -> None:
    a = RouteTable.build(config({"route": "GET /a", "mode": "canary", "percent": 50})).routes[0]
    b = RouteTable.build(config({"route": "GET /b", "mode": "canary", "percent": 50})).routes[0]
    same = sum(
        decide(a, f"k{i}", random.random) == decide(b, f"k{i}", random.random) for i in range(2000)
    )
    assert same < 1400  # independent halves agree about half the time, not always


def test_canary_decision_carries_fallback_only_for_new() -> None:
    route = canary(100)
    d = decide(route, "k", random.random)
    assert (d.primary, d.fallback) == ("new", True)
    assert 0 <= (d.bucket or 0) < BUCKETS
    d = decide(canary(0), "k", random.random)
    assert (d.primary, d.fallback) == ("legacy", False)


@pytest.mark.parametrize(
    ("route", "primary", "shadow"),
    [
        ({"mode": "legacy"}, "legacy", None),
        ({"mode": "shadow"}, "legacy", "new"),
        ({"mode": "new"}, "new", None),
        ({"mode": "new", "shadow": {"reverse": True}}, "new", "legacy"),
        ({"mode": "retired", "shadow": {"reverse": True}}, "new", None),
    ],
)
def test_modes_decide_primary_and_shadow(
    route: dict[str, Any], primary: str, shadow: str | None
) -> None:
    plan = RouteTable.build(config({"route": "GET /x", **route})).routes[0]
    d = decide(plan, None, random.random)
    assert (d.primary, d.shadow, d.fallback) == (primary, shadow, False)


def test_shadow_sampling() -> None:
    plan = RouteTable.build(
        config({"route": "GET /x", "mode": "shadow", "shadow": {"sample": 0.2}})
    ).routes[0]
    rng = random.Random(3)
    shadowed = sum(decide(plan, None, rng.random).shadow == "new" for _ in range(5000))
    assert 800 < shadowed < 1200
    off = RouteTable.build(
        config({"route": "GET /x", "mode": "shadow", "shadow": {"sample": 0}})
    ).routes[0]
    assert decide(off, None, rng.random).shadow is None


def test_shadow_sampling_by_sticky_key_is_deterministic() -> None:
    plan = RouteTable.build(
        config(
            {
                "route": "GET /x",
                "mode": "shadow",
                "sticky": "header:X-User",
                "shadow": {"sample": 0.25},
            }
        )
    ).routes[0]
    rng = random.Random(5)
    first = {f"user-{i}": decide(plan, f"user-{i}", rng.random).shadow for i in range(4000)}
    again = {k: decide(plan, k, rng.random).shadow for k in first}
    assert first == again  # the same users are always sampled: their flows stay whole
    share = sum(v == "new" for v in first.values()) / len(first)
    assert 0.22 < share < 0.28


def test_canary_requests_are_shadowed_on_the_other_side_unless_opted_out() -> None:
    route = {"route": "GET /c", "mode": "canary", "percent": 50, "sticky": "header:X-User"}
    plain = RouteTable.build(config({**route, "shadow": {"canary": False}})).routes[0]
    both = RouteTable.build(config(route)).routes[0]  # the default gathers evidence
    rng = random.Random(9)
    for i in range(200):
        d_plain = decide(plain, f"k{i}", rng.random)
        d_both = decide(both, f"k{i}", rng.random)
        assert d_plain.shadow is None
        assert d_both.primary == d_plain.primary  # shadowing never moves a client
        assert d_both.shadow == ("legacy" if d_both.primary == "new" else "new")


def scope(headers: list[tuple[bytes, bytes]] = (), query: bytes = b"", client: Any = None) -> Any:  # type: ignore[assignment]
    return {"headers": list(headers), "query_string": query, "client": client}


def plan_with(sticky: str) -> Any:
    return canary(50, sticky=sticky)


def test_sticky_key_sources() -> None:
    assert sticky_key(plan_with("header:X-User"), scope([(b"x-user", b"u1")])) == "u1"
    assert sticky_key(plan_with("header:X-User"), scope([(b"x-other", b"u1")])) is None
    cookie = [(b"cookie", b"theme=dark; uid=42"), (b"cookie", b"x=1")]
    assert sticky_key(plan_with("cookie:uid"), scope(cookie)) == "42"
    assert sticky_key(plan_with("cookie:nope"), scope(cookie)) is None
    assert sticky_key(plan_with("query:team"), scope(query=b"a=1&team=red%20x")) == "red x"
    ip = plan_with("client-ip")
    assert sticky_key(ip, scope(client=("10.0.0.5", 5000))) == "10.0.0.5"
    assert sticky_key(ip, scope(client=("10.0.0.5", 5000)), "203.0.113.7") == "203.0.113.7"
    assert sticky_key(canary(50, sticky=None), scope([(b"x-user", b"u1")])) is None


def test_many_routes_match_fast_enough_to_be_bucketed() -> None:
    routes = [{"route": f"GET /svc{i}/items/{{id}}"} for i in range(300)]
    t = RouteTable.build(config(*routes))
    assert key_of(t, "GET", "/svc299/items/5") == "GET /svc299/items/{id}"
    assert len(t._by_first["svc5"]) == 1  # only its own bucket is tried


def test_route_for_agrees_with_match_and_falls_to_the_catch_all() -> None:
    t = table(
        "GET /orgs/{slug}",
        "GET,POST /orgs/{slug}/forms/{form_id}",
        "GET /orgs/new",
        "* /files/{rest:path}",
        "GET /{anything}",
        "GET /",
    )
    paths = [
        "/orgs/acme",
        "/orgs/new",
        "/orgs/a/forms/7",
        "/orgs//forms/7",
        "/files/a/b",
        "/files",
        "/files/",
        "/x",
        "/",
        "",
        "/orgs/a/forms/7/extra",
        "/orgs/",
    ]
    for method in ("GET", "POST", "DELETE"):
        for path in paths:
            expected = key_of(t, method, path) or CATCH_ALL
            assert t.route_for(method, path).key == expected, (method, path)
    assert t.route_for("POST", "/orgs/acme").key == CATCH_ALL
