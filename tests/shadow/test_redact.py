"""Redaction: headers, JSON fields, card numbers, IBANs, query strings, bodies."""

from __future__ import annotations

import gzip
import random
import re
import uuid

import orjson
import pytest

from shadow import CapturedRequest, CapturedResponse, Difference, Redactor, RedactRules
from shadow.redact import REDACTED, is_iban, luhn_valid

CARD = "4111 1111 1111 1111"
IBAN = "GB82 WEST 1234 5698 7654 32"


def test_luhn_and_iban_checksums() -> None:
    assert luhn_valid("4111111111111111")
    assert luhn_valid("378282246310005")
    assert not luhn_valid("4111111111111112")
    assert is_iban("GB82WEST12345698765432")
    assert is_iban("DE89 3704 0044 0532 0130 00")
    assert not is_iban("GB82WEST12345698765433")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"pay with {CARD} now", f"pay with {REDACTED} now"),
        ("pay with 4111-1111-1111-1111", f"pay with {REDACTED}"),
        ("amex 378282246310005.", f"amex {REDACTED}."),
        ("order 4111111111111112", "order 4111111111111112"),  # not Luhn-valid
        ("phone 0612345678", "phone 0612345678"),  # too short
        (f"to {IBAN} OK", f"to {REDACTED} OK"),
        ("ref GB82 WEST 1234 5698 7654 33", "ref GB82 WEST 1234 5698 7654 33"),
    ],
)
def test_text(text: str, expected: str) -> None:
    assert Redactor().text(text) == expected


@pytest.mark.parametrize(
    "identifier",
    [
        "7ed06371-2639-4518-b9db-bb2af43e2ebd",  # a Luhn-valid run inside a UUID
        "12345678-1234-1234-1234-123456789012",  # a UUID of digits only
        "869EF0E73063880705488D54EB041BE5",  # an upper-case MD5 with a Luhn-valid run
        "8f9bb035970c7236ce811d4a3b95582369588838",  # a SHA-1 ending in one
    ],
)
def test_identifiers_are_not_card_numbers(identifier: str) -> None:
    """A masked or compared id must reach the diff whole: a UUID or digest is never a secret."""
    r = Redactor()
    assert r.text(f"ref {identifier}.") == f"ref {identifier}."
    assert r.json({"id": identifier, "card": f"paid with {CARD}"}) == {
        "id": identifier,
        "card": f"paid with {REDACTED}",
    }


def test_random_identifiers_pass_whole_and_ibans_still_do_not() -> None:
    rng = random.Random(16)
    r = Redactor()
    for _ in range(5000):
        bits = rng.getrandbits(128)
        for ident in (str(uuid.UUID(int=bits, version=4)), f"{bits:032X}", f"{bits:040x}"):
            assert r.text(ident) == ident
    # An IBAN's country letters are hex letters too: it stays a secret.
    assert r.text("to DE89370400440532013000 now") == f"to {REDACTED} now"
    assert r.text("pay 4111111111111111") == f"pay {REDACTED}"


def test_secret_headers_default_and_configured() -> None:
    r = Redactor(RedactRules(headers=("X-Session",)))
    headers = (
        ("authorization", "Bearer s3cret"),
        ("cookie", "sid=abc"),
        ("x-api-key", "k"),
        ("x-github-token", "t"),
        ("x-session", "s"),
        ("accept", "application/json"),
    )
    out = dict(r.headers(headers))
    assert out.pop("accept") == "application/json"
    assert set(out.values()) == {REDACTED}


def test_json_fields_by_name_at_any_depth_and_by_path() -> None:
    r = Redactor(RedactRules(fields=("Email", "$.card.holder")))
    doc = {
        "password": "hunter2",
        "user": {"email": "a@b.c", "api_key": "k", "name": "Ann"},
        "card": {"number": CARD, "holder": "ANN", "cvv": "123"},
        "pan": 4111111111111111,
        "notes": [f"iban {IBAN}"],
    }
    out = r.json(doc)
    assert out == {
        "password": REDACTED,
        "user": {"email": REDACTED, "api_key": REDACTED, "name": "Ann"},
        "card": {"number": REDACTED, "holder": REDACTED, "cvv": REDACTED},
        "pan": REDACTED,
        "notes": [f"iban {REDACTED}"],
    }
    assert doc["password"] == "hunter2"  # the input is not changed


def test_query_strings() -> None:
    r = Redactor(RedactRules(fields=("sig",)))
    out = r.query(f"q=a&token=t0k&sig=abc&card={CARD.replace(' ', '')}")
    assert "t0k" not in out
    assert "abc" not in out
    assert "4111" not in out
    assert out.startswith("q=a&")


def test_requests_and_responses_with_encoded_bodies() -> None:
    r = Redactor()
    body = orjson.dumps({"password": "hunter2", "card": CARD})
    request = CapturedRequest(
        "POST",
        "/pay",
        "api_key=zzz",
        (("content-type", "application/json"), ("authorization", "Basic eA==")),
        body,
    )
    out = r.request(request)
    assert b"hunter2" not in (out.body or b"")
    assert b"4111" not in (out.body or b"")
    assert "zzz" not in out.query
    assert dict(out.headers)["authorization"] == REDACTED
    response = CapturedResponse(
        200,
        (("content-type", "text/plain"), ("content-encoding", "gzip"), ("set-cookie", "sid=1")),
        gzip.compress(f"charged {CARD}".encode()),
    )
    red = r.response(response)
    assert red.body == f"charged {REDACTED}".encode()
    assert "content-encoding" not in dict(red.headers)
    assert dict(red.headers)["set-cookie"] == REDACTED


def test_form_bodies_and_differences() -> None:
    r = Redactor()
    form = CapturedRequest(
        "POST",
        "/login",
        "",
        (("content-type", "application/x-www-form-urlencoded"),),
        b"user=ann&password=hunter2",
    )
    assert b"hunter2" not in (r.request(form).body or b"")
    d = r.difference(Difference("$.user.password", "value", "a", "b", "$.user.password"))
    assert d.legacy.startswith("[REDACTED#")
    assert d.new.startswith("[REDACTED#")
    d = r.difference(Difference("$.note", "value", f"card {CARD}", "none", "$.note"))
    assert d.legacy == f"card {REDACTED}"


def test_a_redacted_difference_shows_that_the_secrets_differ_and_nothing_more() -> None:
    r = Redactor(RedactRules(fields=("$.card.cvv",), headers=("x-session",)))
    cases = [
        Difference("$.user.password", "value", "hunter2", "hunter3", "$.user.password"),
        Difference("header:authorization", "header", "Bearer a1", "Bearer b2", "header:x"),
        Difference("header:x-session", "header", "s-1", "s-2", "header:x-session"),
        Difference("$.card.cvv", "value", "123", "456", "$.card.cvv"),
        Difference("$.card", "value", {"cvv": "1"}, {"cvv": "2"}, "$.card"),
    ]
    for d in cases:
        out = r.difference(d)
        assert re.fullmatch(r"\[REDACTED#[0-9a-f]{4}\]", out.legacy), (d.path, out)
        assert re.fullmatch(r"\[REDACTED#[0-9a-f]{4}\]", out.new), (d.path, out)
        assert out.legacy != out.new, d.path  # they differ, and the report says so
        assert str(d.legacy) not in str(out.to_json())
    same = r.difference(Difference("$.token", "value", "t-1", "t-1", "$.token"))
    assert same.legacy == same.new  # equal secrets get equal tags
    gone = r.difference(Difference("$.token", "missing", "t-1", None, "$.token"))
    assert gone.new is None
    assert gone.legacy.startswith("[REDACTED#")
