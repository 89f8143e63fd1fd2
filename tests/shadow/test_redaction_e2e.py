"""Planted secrets never reach the store or the reports."""

from __future__ import annotations

import orjson
from sqlalchemy import text

from shadow.redact import REDACTED
from strangler.report import build_report, render
from tests.shadow.apps import Call, json_answer
from tests.shadow.conftest import Shadowed
from tests.shadow.test_runner import Make

SECRETS = {
    "bearer": "Bearer tok-5ecr3t-bearer",
    "cookie": "session=c00kie-5ecr3t",
    "apikey": "k3y-5ecr3t-api",
    "query": "q5ecr3t-query-token",
    "password": "hunter2-5ecr3t",
    "card": "4111 1111 1111 1111",
    "card_compact": "4111111111111111",
    "iban": "GB82 WEST 1234 5698 7654 32",
    "set_cookie": "sid=5ecr3t-set-cookie",
    "field": "5ecr3t-ssn-999",
}


def _dump(env: Shadowed) -> str:
    parts = []
    with env.store.engine.connect() as conn:
        for table in ("shadow_exchanges", "shadow_fields", "shadow_minutes"):
            for row in conn.execute(text(f"SELECT * FROM {table}")):
                parts.append(repr(tuple(row)))
    return "\n".join(parts)


def test_planted_secrets_are_absent_from_store_and_reports(shadowed: Make) -> None:
    env = shadowed(
        [{"route": "POST /pay/{id}", "mode": "shadow", "shadow": {"writes": "allow"}}],
        rules={"redact": {"fields": ["national_id"]}},
    )

    def legacy(c: Call) -> tuple[int, list[tuple[str, str]], bytes]:
        return json_answer(
            {
                "paid": True,
                "card": SECRETS["card"],
                "iban": SECRETS["iban"],
                "national_id": SECRETS["field"],
            },
            set_cookie=SECRETS["set_cookie"],
        )

    def new(c: Call) -> tuple[int, list[tuple[str, str]], bytes]:
        return json_answer(
            {
                "paid": False,
                "card": SECRETS["card_compact"],
                "note": f"iban {SECRETS['iban']}",
                "national_id": "x",
            },
            set_cookie=SECRETS["set_cookie"],
        )

    env.legacy.handlers["/pay/1"] = legacy
    env.new.handlers["/pay/1"] = new
    with env.client() as c:
        resp = c.post(
            f"/pay/1?api_key={SECRETS['query']}&card={SECRETS['card_compact']}",
            content=orjson.dumps({"password": SECRETS["password"], "card": SECRETS["card"]}),
            headers={
                "authorization": SECRETS["bearer"],
                "cookie": SECRETS["cookie"],
                "x-api-key": SECRETS["apikey"],
                "content-type": "application/json",
            },
        )
        assert resp.json()["card"] == SECRETS["card"]  # the client gets its answer untouched
    env.settle(1)
    (row,) = env.exchanges()
    assert row.outcome == "mismatch"
    assert dict(map(tuple, row.request_headers))["authorization"] == REDACTED
    stored = _dump(env)
    reports = "\n".join(
        render(build_report(env.store, None), fmt) for fmt in ("table", "md", "json", "html")
    )
    assert "$.paid" in reports  # the mismatch is reported...
    for name, secret in SECRETS.items():
        for where, content in (("store", stored), ("reports", reports)):
            assert secret not in content, f"{name} leaked into the {where}"
            assert secret.replace(" ", "") not in content.replace(" ", ""), f"{name} in {where}"
