"""Both apps through real servers: equal where they should be, the documented bugs where not.

The bugs and harmless differences asserted here are the ones listed in examples/README.md.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest

from tests.examples.conftest import Pair

VOLATILE = {"generated_at", "request_id"}


def stable(doc: Any) -> Any:
    """The document without the per-request values (harmless by design)."""
    if isinstance(doc, dict):
        return {k: stable(v) for k, v in doc.items() if k not in VOLATILE}
    if isinstance(doc, list):
        return [stable(v) for v in doc]
    return doc


def both(pair: Pair, path: str) -> tuple[Any, Any]:
    a, b = pair.legacy.get(path), pair.new.get(path)
    assert a.status_code == b.status_code, (path, a.text, b.text)
    return a.json(), b.json()


def _legacy(pair: Pair, sql: str) -> list[Any]:
    with sqlite3.connect(pair.legacy_db) as conn:
        return [r[0] if len(r) == 1 else r for r in conn.execute(sql)]


PATHS_WITHOUT_BUGS = [
    "/orgs",
    "/orgs?limit=7&offset=3",
    "/orgs?country=be",
    "/orgs?limit=500",
    "/orgs?limit=abc",
    "/orgs/no-such-org",
    "/orgs/no-such-org/forms",
    "/orgs/no-such-org/orders",
    "/orders/ORD-999999",
    "/payments/PAY-999999",
    "/no/such/path",
]


@pytest.mark.parametrize("path", PATHS_WITHOUT_BUGS)
def test_routes_without_bugs_answer_the_same(pair: Pair, path: str) -> None:
    a, b = both(pair, path)
    assert stable(a) == stable(b)


def test_organisations_and_order_searches_answer_the_same(pair: Pair) -> None:
    slugs = _legacy(pair, "SELECT ORG_SLUG FROM T_ORG ORDER BY ORG_ID LIMIT 25")
    deleted = _legacy(pair, "SELECT ORG_SLUG FROM T_ORG WHERE DEL_FLG = 'Y'")
    assert deleted, "the seed soft-deletes some organisations"
    for slug in [*slugs, *deleted]:
        for path in (
            f"/orgs/{slug}",
            f"/orgs/{slug}/orders",
            f"/orgs/{slug}/orders?q=du&limit=50",
            f"/orgs/{slug}/orders?status=pending",
            f"/orgs/{slug}/orders?status=lost",
        ):
            a, b = both(pair, path)
            assert stable(a) == stable(b), path
    assert pair.legacy.get(f"/orgs/{deleted[0]}").status_code == 404


def test_forms_list_is_sorted_differently_by_the_rewrite(pair: Pair) -> None:
    """Bug: GET /orgs/{slug}/forms: legacy lists forms in creation order, new by title."""
    reordered = 0
    for slug in _legacy(pair, "SELECT ORG_SLUG FROM T_ORG WHERE DEL_FLG = 'N' LIMIT 20"):
        a, b = both(pair, f"/orgs/{slug}/forms")
        key = lambda item: item["slug"]  # noqa: E731
        assert sorted(a["items"], key=key) == sorted(b["items"], key=key)
        assert [f["title"] for f in b["items"]] == sorted(f["title"] for f in b["items"])
        reordered += a["items"] != b["items"]
    assert reordered >= 10


def test_form_detail_misses_orders_count_in_the_rewrite(pair: Pair) -> None:
    """Bug: GET /orgs/{slug}/forms/{form}: the rewrite dropped "orders_count"."""
    org, form = _legacy(
        pair,
        "SELECT G.ORG_SLUG, F.FRM_SLUG FROM T_FRM F JOIN T_ORG G USING (ORG_ID)"
        " WHERE F.DEL_FLG = 'N' AND G.DEL_FLG = 'N' LIMIT 1",
    )[0]
    a, b = both(pair, f"/orgs/{org}/forms/{form}")
    assert isinstance(a["orders_count"], int)
    assert "orders_count" not in b
    assert stable({k: v for k, v in a.items() if k != "orders_count"}) == stable(b)


def test_order_fee_is_rounded_differently_for_some_amounts(pair: Pair) -> None:
    """Bug: GET /orders/{ref}: 37.50 -> fee 0.78 (half-up) on legacy, 0.77 on new."""
    ref = _legacy(pair, "SELECT ORD_REF FROM T_ORD WHERE ORD_AMT = '003750' AND DEL_FLG = 'N'")[0]
    a, b = both(pair, f"/orders/{ref}")
    assert (a["fee"], a["net"]) == ("0.78", "36.72")
    assert (b["fee"], b["net"]) == ("0.77", "36.73")
    other = {k: v for k, v in a.items() if k not in ("fee", "net")}
    assert stable(other) == stable({k: v for k, v in b.items() if k not in ("fee", "net")})
    ref = _legacy(pair, "SELECT ORD_REF FROM T_ORD WHERE ORD_AMT = '003000' AND DEL_FLG = 'N'")[0]
    a, b = both(pair, f"/orders/{ref}")
    assert stable(a) == stable(b)


def test_payment_date_misses_the_timezone_in_the_rewrite(pair: Pair) -> None:
    """Bug: GET /payments/{ref}: "taken_at" is "...T09:41:00Z" on legacy, "...T09:41:00" on new."""
    a, b = both(pair, "/payments/PAY-000001")
    assert a["taken_at"].endswith("Z")
    assert b["taken_at"] == a["taken_at"].removesuffix("Z")
    assert stable({**a, "taken_at": None}) == stable({**b, "taken_at": None})


def test_harmless_differences_are_there(pair: Pair) -> None:
    """Key order, JSON escaping and per-request ids differ; the documents do not."""
    a, b = (
        pair.legacy.get("/orgs/secours-theatre-jeune"),
        pair.new.get("/orgs/secours-theatre-jeune"),
    )
    assert list(a.json()) == sorted(a.json())  # legacy sorts keys
    assert list(b.json()) != sorted(b.json())
    assert "\\u00e9" in a.text  # legacy escapes non-ASCII, the rewrite writes UTF-8
    assert "é" in b.text
    assert (
        a.json()["request_id"]
        != pair.legacy.get("/orgs/secours-theatre-jeune").json()["request_id"]
    )
    lists = [pair.legacy.get("/orgs").json()["generated_at"] for _ in range(2)]
    assert lists[0] != lists[1]
