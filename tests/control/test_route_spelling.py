"""A route is named however a user writes it, as long as the name fits exactly one route;
the same route declared twice under other parameter names is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from strangler import ConfigError, RouteError
from strangler.config import parse_config
from strangler.control import flip_route, open_store

BASE = {"legacy": "http://127.0.0.1:9", "new": "http://127.0.0.1:10"}


def test_a_flip_names_a_route_by_any_spelling_that_fits_exactly_one(tmp_path: Path) -> None:
    cfg = parse_config(
        {
            **BASE,
            "store": f"sqlite:///{tmp_path / 's.db'}",
            "routes": [{"route": "GET,HEAD /orgs/{id}/forms"}, {"route": "POST /orgs/{id}/forms"}],
        }
    )
    assert cfg.route("GET /orgs/{slug}/forms").key == "GET,HEAD /orgs/{id}/forms"
    assert cfg.route("head,get /orgs/{x}/forms").key == "GET,HEAD /orgs/{id}/forms"
    assert cfg.route("post /orgs/{org}/forms").key == "POST /orgs/{id}/forms"
    with pytest.raises(RouteError):
        cfg.route("GET,POST /orgs/{id}/forms")  # no single route has both
    store = open_store(cfg)
    try:
        flip = flip_route(cfg, store, "GET /orgs/{slug}/forms", "shadow", None, "compare")
        assert flip.route == "GET,HEAD /orgs/{id}/forms"
    finally:
        store.close()


def test_the_same_route_under_two_parameter_names_is_refused() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(
            {**BASE, "routes": [{"route": "GET /orgs/{slug}"}, {"route": "get /orgs/{name}"}]}
        )
    assert "routes[1] 'GET /orgs/{name}' is the same as 'GET /orgs/{slug}'" in str(info.value)
