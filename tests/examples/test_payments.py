"""Creating orders and taking payments: the same answers, and a payment is taken once."""

from __future__ import annotations

import sqlite3
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.examples.conftest import Pair

ORDER = {"payer_name": "Zoë Martin", "payer_email": "zoe@example.org", "amount": "25.00"}


def _count(db: Path, sql: str, *args: object) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(sql, args).fetchone()[0])


def _open_form(pair: Pair) -> str:
    with sqlite3.connect(pair.legacy_db) as conn:
        org, form = conn.execute(
            "SELECT G.ORG_SLUG, F.FRM_SLUG FROM T_FRM F JOIN T_ORG G USING (ORG_ID)"
            " WHERE F.DEL_FLG = 'N' AND G.DEL_FLG = 'N' ORDER BY F.FRM_ID LIMIT 1"
        ).fetchone()
    return f"/orgs/{org}/forms/{form}/orders"


@pytest.mark.parametrize("side", ["legacy", "new"])
def test_a_payment_is_taken_once_per_idempotency_key(pair: Pair, side: str) -> None:
    client: httpx.Client = getattr(pair, side)
    created = client.post(_open_form(pair), json=ORDER)
    assert created.status_code == 201, created.text
    order = created.json()
    assert order["status"] == "pending"
    key = str(uuid.uuid4())
    body = {"order": order["reference"], "amount": "25.00"}

    def pay() -> httpx.Response:
        with httpx.Client(base_url=str(client.base_url), timeout=30) as c:
            return c.post("/payments", json=body, headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: pay(), range(8)))
    assert sorted(a.status_code for a in answers) == [200] * 7 + [201]
    assert len({a.json()["reference"] for a in answers}) == 1
    replays = [a for a in answers if a.status_code == 200]
    assert all(a.headers["idempotent-replayed"] == "true" for a in replays)
    if side == "legacy":
        taken = _count(pair.legacy_db, "SELECT COUNT(*) FROM T_PAY WHERE PAY_IDEM_KEY = ?", key)
    else:
        taken = _count(pair.new_db, "SELECT COUNT(*) FROM payments WHERE idempotency_key = ?", key)
    assert taken == 1
    assert client.get(f"/orders/{order['reference']}").json()["status"] == "paid"

    again = client.post("/payments", json=body, headers={"Idempotency-Key": "another-key"})
    assert again.status_code == 409
    assert again.json()["error"] == "order_not_payable"
    reused = client.post(
        "/payments", json={**body, "amount": "1.00"}, headers={"Idempotency-Key": key}
    )
    assert (reused.status_code, reused.json()["error"]) == (422, "idempotency_key_reused")


def test_payment_errors_answer_the_same(pair: Pair) -> None:
    orders = [
        c.post(_open_form(pair), json=ORDER).json()["reference"] for c in (pair.legacy, pair.new)
    ]
    assert orders[0] == orders[1]  # both databases hand out the next reference
    cases = [
        ({}, {"order": orders[0], "amount": "25.00"}),
        ({"Idempotency-Key": "k1"}, {"order": orders[0]}),
        ({"Idempotency-Key": "k2"}, {"order": "ORD-999999", "amount": "25.00"}),
        ({"Idempotency-Key": "k3"}, {"order": orders[0], "amount": "24.99"}),
        ({"Idempotency-Key": "k4"}, {"order": "ORD-000001", "amount": "1.00"}),
    ]
    for headers, body in cases:
        a = pair.legacy.post("/payments", json=body, headers=headers)
        b = pair.new.post("/payments", json=body, headers=headers)
        assert (a.status_code, a.json()) == (b.status_code, b.json()), body
        assert a.status_code in (400, 404, 409, 422)
    assert _count(pair.legacy_db, "SELECT COUNT(*) FROM T_PAY WHERE PAY_IDEM_KEY LIKE 'k%'") == 0


def test_creating_an_order_answers_the_same(pair: Pair) -> None:
    path = _open_form(pair)
    a, b = pair.legacy.post(path, json=ORDER), pair.new.post(path, json=ORDER)
    assert a.status_code == b.status_code == 201
    assert a.json() == b.json() | {"created_at": a.json()["created_at"]}
    for bad in ({**ORDER, "amount": "-3"}, {**ORDER, "payer_email": "nobody"}, {}):
        a, b = pair.legacy.post(path, json=bad), pair.new.post(path, json=bad)
        assert (a.status_code, a.json()) == (b.status_code, b.json())
        assert a.status_code == 400
