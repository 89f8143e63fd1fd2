"""Rules from the config: validation messages, merging global and route rules, explain."""

from __future__ import annotations

import copy

import pytest

from shadow import Rules, compile_rules, explain, normalise, route_rules
from strangler._errors import ConfigError
from strangler.config import parse_config

BASE = {"legacy": "http://127.0.0.1:1", "new": "http://127.0.0.1:2"}


def test_rules_in_the_config_are_validated_with_the_key_path() -> None:
    with pytest.raises(ConfigError) as err:
        parse_config({**BASE, "rules": {"ignore": ["items.id"]}}, source="s.yaml")
    assert err.value.key == "rules.ignore"
    assert "must start with '$'" in str(err.value)
    with pytest.raises(ConfigError) as err:
        parse_config(
            {**BASE, "routes": [{"route": "GET /a", "rules": {"tolerance": [{"path": "$.x"}]}}]}
        )
    assert err.value.key.startswith("routes[0].rules.tolerance[0]")
    assert "'abs' or 'rel'" in str(err.value)
    with pytest.raises(ConfigError, match="exactly one of 'shape'"):
        parse_config({**BASE, "rules": {"masks": [{"path": "$.a"}]}})
    with pytest.raises(ConfigError, match=r"rules\.ignroe"):
        parse_config({**BASE, "rules": {"ignroe": ["$.a"]}})


def test_route_rules_add_to_the_global_rules() -> None:
    cfg = parse_config(
        {
            **BASE,
            "rules": {
                "ignore": ["$.at"],
                "headers": {"compare": ["content-type"], "ignore": ["x-a"]},
            },
            "routes": [
                {
                    "route": "GET /a",
                    "rules": {
                        "ignore": ["$.id"],
                        "unordered": ["$.tags"],
                        "headers": {"ignore": ["x-b"]},
                    },
                },
                {"route": "GET /b"},
            ],
        }
    )
    a = route_rules(cfg.rules, cfg.route("GET /a").rules)
    assert a.rules.ignore == ("$.at", "$.id")
    assert a.compared_headers == frozenset({"content-type"})
    assert {"x-a", "x-b", "date"} <= a.ignored_headers
    assert normalise({"at": 1, "id": 2, "tags": [2, 1], "n": 0}, a) == {"tags": [1, 2], "n": 0}
    b = route_rules(cfg.rules, cfg.route("GET /b").rules)
    assert normalise({"at": 1, "id": 2}, b) == {"id": 2}


def test_compiled_once_for_equal_rules() -> None:
    assert compile_rules(Rules(ignore=("$.a",))) is compile_rules(Rules(ignore=("$.a",)))


def test_normalise_leaves_its_input_alone() -> None:
    doc = {"items": [{"id": 1, "at": 2}, {"id": 0, "at": 3}], "tags": ["b", "a"]}
    before = copy.deepcopy(doc)
    r = compile_rules(
        Rules.model_validate(
            {"ignore": ["$.items[*].at"], "unordered": ["$.tags", {"path": "$.items", "key": "id"}]}
        )
    )
    normalise(doc, r)
    assert doc == before


def test_explain_describes_a_mismatch_after_the_rules() -> None:
    r = compile_rules(Rules(ignore=("$.at",)))
    lines = explain(b'{"a": 1, "at": 1, "b": [1]}', b'{"a": 2, "at": 2, "b": [1], "c": 3}', r)
    text = "\n".join(lines)
    assert "root['a']" in text
    assert "root['c']" in text
    assert "root['at']" not in text
    assert explain(b'{"at": 1}', b'{"at": 2}', r) == []
    assert explain(b"<html>", b"<xml>", r) == []
