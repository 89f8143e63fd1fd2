"""Scenarios from the route table and from a recorded corpus (pure, no servers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from load.scenario import CATCH_ALL, Scenario, from_corpus, from_routes
from shadow.corpus import read_corpus, write_corpus
from shadow.exchange import CapturedRequest
from strangler._errors import ConfigError, LoadError
from strangler.config import Config, parse_config


def config(*routes: dict[str, object]) -> Config:
    return parse_config(
        {"legacy": "http://127.0.0.1:1", "new": "http://127.0.0.1:2", "routes": list(routes)}
    )


def test_route_table_fills_path_parameters_from_examples() -> None:
    cfg = config(
        {
            "route": "GET /orgs/{slug}/repos/{repo}",
            "examples": {"slug": ["acme", "a b"], "repo": ["x"]},
        },
        {"route": "GET /files/{rest:path}", "examples": {"rest": ["a/b.txt"]}},
    )
    scenario = from_routes(cfg)
    orgs, files = scenario.routes
    assert sorted(q.path for q in orgs.requests) == ["/orgs/a%20b/repos/x", "/orgs/acme/repos/x"]
    assert [q.path for q in files.requests] == ["/files/a/b.txt"]
    assert {q.method for q in orgs.requests} == {"GET"}


def test_weights_become_shares() -> None:
    cfg = config(
        {"route": "GET /a", "weight": 3}, {"route": "GET /b"}, {"route": "GET /c", "weight": 0}
    )
    shares = from_routes(cfg).shares()
    assert shares == {"GET /a": 0.75, "GET /b": 0.25}


def test_writes_are_left_out_unless_the_route_allows_them() -> None:
    cfg = config({"route": "GET,POST /pay"}, {"route": "POST,DELETE /items", "load_writes": True})
    scenario = from_routes(cfg)
    pay, items = scenario.routes
    assert {q.method for q in pay.requests} == {"GET"}
    assert {q.method for q in items.requests} == {"POST", "DELETE"}
    assert any("POST not sent" in n and "load_writes" in n for n in scenario.notes)


def test_a_route_without_examples_is_skipped_with_a_note() -> None:
    cfg = config({"route": "GET /orgs/{slug}"}, {"route": "GET /health"})
    scenario = from_routes(cfg)
    assert [r.route for r in scenario.routes] == ["GET /health"]
    assert any("'slug' has no examples" in n and "routes[0].examples" in n for n in scenario.notes)


def test_no_route_with_load_is_a_config_error_saying_why() -> None:
    with pytest.raises(ConfigError, match="has no examples"):
        from_routes(config({"route": "GET /orgs/{slug}"}))


def test_examples_must_name_path_parameters() -> None:
    with pytest.raises(ConfigError, match=r"'slg' is not a path parameter \(parameters: slug\)"):
        config({"route": "GET /orgs/{slug}", "examples": {"slg": ["acme"]}})


def _write(tmp_path: Path, requests: list[CapturedRequest]) -> Path:
    path = tmp_path / "corpus.jsonl"
    write_corpus(path, [(r, None) for r in requests])
    return path


def test_corpus_weights_routes_by_recorded_traffic(tmp_path: Path) -> None:
    recorded = [CapturedRequest("GET", "/orgs/acme", route="GET /orgs/{slug}")] * 6
    recorded += [CapturedRequest("GET", "/health", route="GET /health")] * 2
    recorded += [CapturedRequest("GET", "/old", route="")] * 2
    path = _write(tmp_path, recorded)
    scenario = from_corpus(read_corpus(path), config({"route": "GET /orgs/{slug}"}), name="c")
    assert scenario.shares() == {"GET /orgs/{slug}": 0.6, "GET /health": 0.2, CATCH_ALL: 0.2}


def test_corpus_keeps_headers_but_not_connection_ones(tmp_path: Path) -> None:
    headers = (("accept", "application/json"), ("host", "old.example"), ("content-length", "0"))
    path = _write(tmp_path, [CapturedRequest("GET", "/a", "x=1", headers, route="GET /a")])
    (request,) = from_corpus(read_corpus(path), config()).routes[0].requests
    assert request.headers == (("accept", "application/json"),)
    assert request.url == "/a?x=1"


def test_corpus_writes_are_dropped_unless_the_route_allows_them(tmp_path: Path) -> None:
    recorded = [
        CapturedRequest("POST", "/pay", body=b"{}", route="POST /pay"),
        CapturedRequest("POST", "/items", body=b'{"a": 1}', route="POST /items"),
        CapturedRequest("GET", "/items", route="GET /items"),
    ]
    cfg = config({"route": "POST /pay"}, {"route": "POST /items", "load_writes": True})
    scenario = from_corpus(read_corpus(_write(tmp_path, recorded)), cfg)
    assert sorted(r.route for r in scenario.routes) == ["GET /items", "POST /items"]
    post = next(r for r in scenario.routes if r.route == "POST /items")
    assert post.requests[0].body == b'{"a": 1}'
    assert any(n.startswith("POST /pay: 1 recorded write") for n in scenario.notes)


def test_only_one_route_and_a_clear_error_for_a_route_without_load() -> None:
    scenario = from_routes(config({"route": "GET /a"}, {"route": "GET /b"}))
    assert [r.route for r in scenario.only("get /b").routes] == ["GET /b"]
    with pytest.raises(LoadError, match=r"'GET /c' has no load .* GET /a, GET /b"):
        scenario.only("GET /c")


def test_json_round_trip_keeps_binary_bodies() -> None:
    cfg = config({"route": "PUT /blob", "load_writes": True})
    scenario = from_routes(cfg)
    again = Scenario.from_json(scenario.to_json())
    assert again == scenario
