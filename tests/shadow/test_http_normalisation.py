"""HTTP-aware comparison: media types by meaning, header groups, framing on request."""

from __future__ import annotations

import pytest

from shadow import CapturedResponse, Rules, compare, compile_rules
from shadow.verdict import Severity

BODY = b'{"id": 1}'


def answer(*headers: tuple[str, str], body: bytes = BODY) -> CapturedResponse:
    return CapturedResponse(200, tuple(headers), body, 1.0)


@pytest.mark.parametrize(
    ("legacy", "new"),
    [
        ("application/json", "application/json; charset=utf-8"),
        ("application/json; charset=UTF-8", "Application/JSON"),
        ("application/problem+json", "application/problem+json;charset=utf8"),
        ("text/html; charset=UTF-8", 'text/html;charset="utf-8"'),
        ("text/plain; format=flowed; charset=utf-8", "text/plain;charset=utf-8;format=flowed"),
    ],
)
def test_media_types_that_mean_the_same_match(legacy: str, new: str) -> None:
    rules = compile_rules(Rules())
    body = b"hi" if legacy.startswith("text/") else BODY
    verdict = compare(
        answer(("content-type", legacy), body=body), answer(("content-type", new), body=body), rules
    )
    assert verdict.outcome == "match", verdict.differences


def test_a_real_content_type_change_is_still_reported() -> None:
    rules = compile_rules(Rules())
    verdict = compare(
        answer(("content-type", "application/json")),
        answer(("content-type", "text/html; charset=utf-8")),
        rules,
    )
    assert "header:content-type" in {d.field for d in verdict.differences}
    legacy_html = compare(
        answer(("content-type", "text/html; charset=iso-8859-1"), body=b"x"),
        answer(("content-type", "text/html; charset=utf-8"), body=b"x"),
        rules,
    )
    assert [d.field for d in legacy_html.differences] == ["header:content-type"]


def test_a_header_group_is_ignored_by_its_name_and_nothing_else() -> None:
    cors = ("access-control-allow-origin", "*")
    rules = compile_rules(Rules.model_validate({"headers": {"ignore": ["cors"]}}))
    ct = ("content-type", "application/json")
    assert compare(answer(ct, cors), answer(ct), rules).outcome == "match"
    changed = compare(answer(ct, cors), answer(("content-type", "text/plain")), rules)
    assert [d.field for d in changed.differences] == ["header:content-type"]


def test_framing_is_compared_only_when_asked_and_with_low_severity() -> None:
    ct = ("content-type", "application/json")
    fixed = answer(ct, ("content-length", "9"))
    chunked = answer(ct)  # the proxy drops Transfer-Encoding (hop-by-hop): no length
    assert compare(fixed, chunked, compile_rules(Rules())).outcome == "match"
    asked = compile_rules(
        Rules.model_validate({"headers": {"compare": ["content-type", "framing"]}})
    )
    verdict = compare(fixed, chunked, asked)
    assert [(d.field, d.kind) for d in verdict.differences] == [("header:framing", "framing")]
    assert verdict.severity == Severity.ADDED
    other_length = answer(ct, ("content-length", "12"))
    assert compare(fixed, other_length, asked).outcome == "match"  # the length itself never


def test_echoed_header_names_compare_case_insensitively_without_a_rule() -> None:
    ct = ("content-type", "application/json")
    legacy = answer(ct, body=b'{"headers": {"User-Agent": "x", "Accept": "*/*"}, "n": 1}')
    new = answer(ct, body=b'{"headers": {"user-agent": "x", "accept": "*/*"}, "n": 1}')
    assert compare(legacy, new, compile_rules(Rules())).outcome == "match"
    # recognised by its keys too, whatever the object is called
    legacy = answer(ct, body=b'{"seen": {"User-Agent": "x", "Accept": "*/*", "X-Team": "a"}}')
    new = answer(ct, body=b'{"seen": {"user-agent": "x", "accept": "*/*", "x-team": "a"}}')
    assert compare(legacy, new, compile_rules(Rules())).outcome == "match"
    # the values still count, and so does a header lost
    lost = answer(ct, body=b'{"seen": {"user-agent": "x", "accept": "*/*"}}')
    assert [d.path for d in compare(legacy, lost, compile_rules(Rules())).differences] == [
        "$.seen.x-team"
    ]


def test_a_json_key_case_change_is_reported_unless_a_rule_says_otherwise() -> None:
    ct = ("content-type", "application/json")
    legacy = answer(ct, body=b'{"meta": {"Region": "eu", "Tier": "gold"}, "userId": 1}')
    new = answer(ct, body=b'{"meta": {"region": "eu", "tier": "gold"}, "userid": 1}')
    found = compare(legacy, new, compile_rules(Rules())).differences
    assert {(d.path, d.kind) for d in found} >= {("$.userId", "missing"), ("$.userid", "added")}
    assert "$.meta.Region" in {d.path for d in found}
    rules = compile_rules(Rules.model_validate({"case_insensitive_keys": ["$.meta"]}))
    assert [d.path for d in compare(legacy, new, rules).differences] == ["$.userId", "$.userid"]
