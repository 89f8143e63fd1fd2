"""compare(): status, headers, bodies by content type, every difference kind, every rule."""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import brotli
import orjson
import pytest

from shadow import CapturedResponse, Rules, Severity, compare, compile_rules
from shadow.rules import CompiledRules

JSON = ("content-type", "application/json")
NONE = compile_rules(Rules())


def rules(**data: Any) -> CompiledRules:
    return compile_rules(Rules.model_validate(data))


def resp(
    body: Any = None,
    *,
    status: int = 200,
    headers: tuple[tuple[str, str], ...] = (JSON,),
    raw: bytes | None = None,
    error: str | None = None,
) -> CapturedResponse:
    data = raw if raw is not None else orjson.dumps(body)
    return CapturedResponse(status, headers, data, error=error)


def kinds(
    legacy: CapturedResponse, new: CapturedResponse, r: CompiledRules = NONE
) -> list[tuple[str, str]]:
    return [(d.path, d.kind) for d in compare(legacy, new, r).differences]


def test_equal_answers_match_even_when_date_and_server_differ() -> None:
    a = resp({"id": 1}, headers=(JSON, ("date", "Mon"), ("server", "flask")))
    b = resp({"id": 1}, headers=(JSON, ("date", "Tue"), ("server", "uvicorn")))
    verdict = compare(a, b, NONE)
    assert verdict.outcome == "match"
    assert verdict.severity is None


def test_same_json_spelled_differently_matches() -> None:
    a = resp(raw=b'{"a": 1, "b": [1, 2.0]}')
    b = resp(raw=b'{"b":[1,2],"a":1}')
    assert compare(a, b, NONE).outcome == "match"


def test_every_json_difference_kind() -> None:
    a = resp({"gone": 1, "n": 1, "t": "1", "obj": {"x": 1}, "flag": True})
    b = resp({"n": 2, "t": 1, "obj": [1], "flag": 1, "extra": None})
    assert kinds(a, b) == [
        ("$.gone", "missing"),
        ("$.n", "value"),
        ("$.t", "type"),
        ("$.obj", "type"),
        ("$.flag", "type"),
        ("$.extra", "added"),
    ]


def test_array_lengths_report_missing_and_added_positions() -> None:
    assert kinds(resp({"l": [1, 2, 3]}), resp({"l": [1]})) == [
        ("$.l[1]", "missing"),
        ("$.l[2]", "missing"),
    ]
    diffs = compare(resp({"l": [1]}), resp({"l": [1, 9]}), NONE).differences
    assert [(d.path, d.field, d.new) for d in diffs] == [("$.l[1]", "$.l[*]", 9)]


def test_status_difference_stops_the_comparison() -> None:
    verdict = compare(resp({"a": 1}), resp({"a": 2}, status=500), NONE)
    assert [(d.kind, d.legacy, d.new) for d in verdict.differences] == [("status", 200, 500)]
    assert verdict.severity is Severity.STATUS


def test_an_error_against_an_answer_is_the_worst_difference() -> None:
    verdict = compare(resp({"a": 1}), resp(raw=b"", error="connect refused"), NONE)
    assert [(d.kind, d.legacy, d.new) for d in verdict.differences] == [
        ("error", 200, "connect refused")
    ]
    assert verdict.severity is Severity.STATUS
    both = compare(resp(raw=b"", error="x"), resp(raw=b"", error="y"), NONE)
    assert both.outcome == "not_compared"


def test_severity_order_status_schema_value_added() -> None:
    assert compare(resp({"a": 1}), resp({"a": 1, "b": 2}), NONE).severity is Severity.ADDED
    assert compare(resp({"a": 1}), resp({"a": 2, "b": 2}), NONE).severity is Severity.VALUE
    assert compare(resp({"a": 1, "c": 1}), resp({"a": 2}), NONE).severity is Severity.SCHEMA
    assert compare(resp({"a": "1"}), resp({"a": 1}), NONE).severity is Severity.SCHEMA
    verdict = compare(resp({"a": 1, "c": 1}), resp({"a": 2, "d": 1}), NONE)
    assert verdict.fields[0] == "$.c"  # worst first


def test_body_over_the_cap_is_not_compared() -> None:
    verdict = compare(resp({"a": 1}), CapturedResponse(200, (JSON,), None), NONE)
    assert verdict.outcome == "not_compared"
    assert "cap" in verdict.reason


def test_headers_compared_case_insensitively_with_defaults_ignored() -> None:
    a = resp({}, headers=(JSON, ("cache-control", "no-store"), ("x-request-id", "1")))
    b = resp({}, headers=(("content-type", "Application/JSON"), ("x-request-id", "2")))
    verdict = compare(a, b, NONE)
    assert [(d.path, d.legacy, d.new) for d in verdict.differences] == [
        ("header:cache-control", "no-store", None)
    ]


def test_header_rules_compare_only_a_set_or_ignore_more() -> None:
    a = resp({}, headers=(JSON, ("cache-control", "no-store"), ("x-trace", "a")))
    b = resp({}, headers=(JSON, ("cache-control", "public"), ("x-trace", "b")))
    only = rules(headers={"compare": ["Content-Type", "X-Trace"]})
    assert kinds(a, b, only) == [("header:x-trace", "header")]
    ignoring = rules(headers={"ignore": ["X-Trace", "Cache-Control"]})
    assert compare(a, b, ignoring).outcome == "match"


def test_text_bodies_compared_as_text_with_the_first_differing_line() -> None:
    html = (("content-type", "text/html; charset=utf-8"),)
    a = resp(raw=b"<h1>Hi</h1>\n<p>one</p>\n<p>two</p>", headers=html)
    b = resp(raw=b"<h1>Hi</h1>\n<p>ONE</p>\n<p>two</p>", headers=html)
    (diff,) = compare(a, b, NONE).differences
    assert diff.kind == "value"
    assert "line 2" in diff.path
    assert (diff.legacy, diff.new) == ("<p>one</p>", "<p>ONE</p>")


def test_binary_bodies_compared_by_hash() -> None:
    png = (("content-type", "image/png"),)
    (diff,) = compare(
        resp(raw=b"\x89PNG1", headers=png), resp(raw=b"\x89PNG2", headers=png), NONE
    ).differences
    assert diff.legacy.startswith("sha256:")
    assert diff.legacy != diff.new
    assert (
        compare(
            resp(raw=b"\x00\x01", headers=png), resp(raw=b"\x00\x01", headers=png), NONE
        ).outcome
        == "match"
    )


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("br", brotli.compress),
    ],
)
def test_content_encodings_are_decoded_before_comparing(coding: str, encode: Any) -> None:
    body = orjson.dumps({"id": 1, "name": "x" * 50})
    plain = resp(raw=body)
    packed = resp(raw=encode(body), headers=(JSON, ("content-encoding", coding)))
    assert compare(plain, packed, NONE).outcome == "match"
    changed = resp(raw=encode(body.replace(b'"id":1', b'"id":2')), headers=packed.headers)
    assert kinds(plain, changed) == [("$.id", "value")]


def test_a_corrupt_encoding_is_a_difference() -> None:
    broken = resp(raw=b"not gzip at all", headers=(JSON, ("content-encoding", "gzip")))
    (diff,) = compare(resp({"a": 1}), broken, NONE).differences
    assert diff.kind == "type"
    assert "gzip" in diff.new


def test_invalid_json_on_one_side_is_a_type_difference() -> None:
    (diff,) = compare(resp({"a": 1}), resp(raw=b"<html>oops"), NONE).differences
    assert diff.kind == "type"
    assert "invalid JSON" in diff.new


# -- rules -----------------------------------------------------------------------------


def test_ignore_paths_with_wildcards_and_exact_segments() -> None:
    r = rules(ignore=["$.items[*].id"])
    a = resp({"items": [{"id": 1, "idempotency_key": "k1"}]})
    b = resp({"items": [{"id": 2, "idempotency_key": "k2"}]})
    # `items.id` must not silence `items.idempotency_key`.
    assert kinds(a, b, r) == [("$.items[0].idempotency_key", "value")]


def test_ignore_covers_the_subtree_and_descent_reaches_any_depth() -> None:
    a = resp({"meta": {"a": 1, "b": [1]}, "x": {"trace": 1, "y": {"trace": 2}}})
    b = resp({"meta": {"a": 2}, "x": {"trace": 3, "y": {"trace": 4}}})
    assert compare(a, b, rules(ignore=["$.meta", "$..trace"])).outcome == "match"
    assert compare(a, b, rules(ignore=["$.meta"])).outcome == "mismatch"


def test_unordered_arrays_as_sets_and_by_key() -> None:
    assert (
        compare(resp({"t": [1, 2, 3]}), resp({"t": [3, 1, 2]}), rules(unordered=["$.t"])).outcome
        == "match"
    )
    assert compare(resp({"t": [1, 2, 3]}), resp({"t": [3, 1, 2]}), NONE).outcome == "mismatch"
    a = resp({"items": [{"id": 1, "n": "a"}, {"id": 2, "n": "b"}]})
    b = resp({"items": [{"id": 2, "n": "B"}, {"id": 1, "n": "a"}, {"id": 3, "n": "c"}]})
    r = rules(unordered=[{"path": "$.items", "key": "id"}])
    assert kinds(a, b, r) == [("$.items[id=2].n", "value"), ("$.items[id=3]", "added")]


def test_numeric_tolerance_absolute_and_relative() -> None:
    a, b = resp({"total": 10.0, "rate": 1000.0}), resp({"total": 10.004, "rate": 1000.9})
    assert kinds(a, b) == [("$.total", "value"), ("$.rate", "value")]
    r = rules(tolerance=[{"path": "$.total", "abs": 0.01}, {"path": "$.rate", "rel": 0.001}])
    assert compare(a, b, r).outcome == "match"
    far = resp({"total": 10.5, "rate": 1002.0})
    assert kinds(a, far, r) == [("$.total", "value"), ("$.rate", "value")]


def test_masks_by_shape_and_regex() -> None:
    a = resp(
        {"id": "123e4567-e89b-12d3-a456-426614174000", "at": "2026-01-01T10:00:00Z", "ref": "R-1"}
    )
    b = resp(
        {
            "id": "00000000-0000-4000-8000-000000000001",
            "at": "2026-01-02T11:30:00.123+02:00",
            "ref": "R-99",
        }
    )
    r = rules(
        masks=[
            {"path": "$.id", "shape": "uuid"},
            {"path": "$.at", "shape": "iso-datetime"},
            {"path": "$.ref", "regex": r"R-\d+"},
        ]
    )
    assert compare(a, b, r).outcome == "match"
    # A value of another shape is still compared.
    c = resp({"id": "not-a-uuid", "at": "2026-01-01T10:00:00Z", "ref": "R-1"})
    assert kinds(a, c, r) == [("$.id", "value")]


def test_a_mask_without_path_applies_everywhere_and_to_text() -> None:
    r = rules(masks=[{"shape": "uuid"}])
    a = resp({"a": {"b": ["id 123e4567-e89b-12d3-a456-426614174000"]}})
    b = resp({"a": {"b": ["id 00000000-0000-4000-8000-000000000001"]}})
    assert compare(a, b, r).outcome == "match"
    txt = (("content-type", "text/plain"),)
    ta = resp(raw=b"request 123e4567-e89b-12d3-a456-426614174000 ok", headers=txt)
    tb = resp(raw=b"request 00000000-0000-4000-8000-000000000001 ok", headers=txt)
    assert compare(ta, tb, r).outcome == "match"
    assert compare(ta, tb, NONE).outcome == "mismatch"


def test_many_differences_are_cut_at_the_limit() -> None:
    a, b = resp({f"k{i}": i for i in range(50)}), resp({f"k{i}": -i - 1 for i in range(50)})
    verdict = compare(a, b, NONE, limit=10)
    assert len(verdict.differences) == 10
    assert verdict.truncated
