"""The ``auth:`` section: every mistake is a ConfigError naming the key and the value."""

from __future__ import annotations

from typing import Any

import pytest

from strangler import ConfigError
from strangler.config import parse_config
from strangler.proxy import Proxy

BASE: dict[str, Any] = {
    "legacy": "http://127.0.0.1:9",
    "new": "http://127.0.0.1:10",
    "routes": [{"route": "GET /api/me"}, {"route": "POST /api/login"}],
}


def _with(domain: dict[str, Any], *more: dict[str, Any]) -> dict[str, Any]:
    base = {"name": "users", "routes": ["* /api/{rest:path}"], "credential": "header:Authorization"}
    return {**BASE, "auth": {"domains": [{**base, **domain}, *more]}}


@pytest.mark.parametrize(
    ("domain", "key", "says"),
    [
        ({"routes": ["GET /nothing/here"]}, "auth", "covers no declared route"),
        ({"routes": ["FETCH /api/me"]}, "auth", "methods from"),
        ({"credential": "authorization"}, "auth.domains[0].credential", "'header:NAME' or"),
        ({"credential": "query:token"}, "auth.domains[0].credential", "'header:NAME' or"),
        ({"to_new": {"hook": "not a path"}}, "auth.domains[0].to_new", "module:function"),
        ({"to_new": "pinned"}, "auth.domains[0].to_new", "pin"),
        ({"to_new": {"exchange": {"url": "ftp://x"}}}, "auth.domains[0].to_new", "http://"),
        ({"name": "has space"}, "auth.domains[0].name", "letters, digits"),
        ({"routes": []}, "auth.domains[0].routes", "at least one"),
    ],
)
def test_a_bad_domain_is_refused_with_its_key(domain: dict[str, Any], key: str, says: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(_with(domain), source="strangler.yaml")
    problems = info.value.problems or [info.value]
    assert any(p.key.startswith(key) and says in str(p) for p in problems), [
        str(p) for p in problems
    ]


def test_a_route_in_two_domains_is_refused() -> None:
    other = {"name": "admins", "routes": ["GET /api/me"], "credential": "cookie:sid"}
    with pytest.raises(ConfigError) as info:
        parse_config(_with({}, other), source="strangler.yaml")
    assert "'GET /api/me' is in domains 'users' and 'admins'" in str(info.value)


def test_patterns_are_canonical_and_cover_declared_routes() -> None:
    cfg = parse_config(_with({"routes": ["get,post /api/{rest:path}"]}))
    assert cfg.auth.domains[0].routes == ("GET,POST /api/{rest:path}",)
    assert cfg.auth.domain_of("GET /api/me") is not None
    assert cfg.auth.domain_of("GET /elsewhere") is None


def test_a_hook_that_does_not_import_names_its_key() -> None:
    cfg = parse_config(_with({"to_new": {"hook": "no_such_module_here:fn"}}), source="x.yaml")
    with pytest.raises(ConfigError) as info:
        Proxy(cfg)
    assert info.value.key == "auth.domains[0].to_new.hook"
    assert "no_such_module_here" in str(info.value)


def test_an_exchange_secret_that_is_not_set_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("NOT_SET_SECRET", raising=False)
    exchange = {"exchange": {"url": "http://127.0.0.1:9/x", "secret_env": "NOT_SET_SECRET"}}
    cfg = parse_config(_with({"to_new": exchange}))
    with pytest.raises(ConfigError) as info:
        Proxy(cfg)
    assert info.value.key == "auth.domains[0].to_new.exchange.secret_env"
    assert "NOT_SET_SECRET" in str(info.value)
