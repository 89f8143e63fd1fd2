"""Verification finds each planted difference, repairs it, records the verdict."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, insert, update

from migrations import JobLog, backfill, require_verified, verify
from strangler._errors import MigrationError
from tests.migrations import shop
from tests.migrations.conftest import Shop


@pytest.fixture
def copied(sqlite_shop: Shop) -> Shop:
    sqlite_shop.add_orders(range(1, 3001))
    backfill(sqlite_shop.mapping(), sqlite_shop.dbs, sqlite_shop.store)
    return sqlite_shop


def _plant(s: Shop) -> None:
    with s.new.begin() as conn:
        conn.execute(delete(shop.orders).where(shop.orders.c.id.in_([17, 2999])))  # missing
        conn.execute(
            insert(shop.orders).values(id=50, customer="ghost", amount=1, status="active")
        )  # extra: legacy 50 is a test order (skipped)
        conn.execute(insert(shop.orders).values(id=99_999, customer="ghost"))  # extra, past end
        conn.execute(
            update(shop.orders).where(shop.orders.c.id == 1234).values(amount=Decimal("0.01"))
        )  # different


def test_identical_tables_are_clean_and_recorded(copied: Shop) -> None:
    result = verify(copied.mapping(), copied.dbs, copied.store, chunk=500)
    assert result.clean
    assert (result.legacy_rows, result.new_rows) == (3000, 2940)
    assert result.ranges == 7  # 6 full ranges of 500 and the open end
    latest = JobLog(copied.store).latest_verification("orders")
    assert latest is not None
    assert latest.clean
    evidence = copied.store.latest_evidence("data", "GET /orders/{id}")
    assert evidence is not None
    assert evidence.passed
    assert evidence.subject == "orders"


def test_finds_missing_extra_and_different_rows(copied: Shop) -> None:
    _plant(copied)
    result = verify(copied.mapping(), copied.dbs, copied.store, chunk=500, recheck_delay=0)
    assert not result.clean
    assert sorted(result.missing) == [(17,), (2999,)]
    assert sorted(result.extra) == [(50,), (99_999,)]
    (diff,) = result.different
    assert diff.key == (1234,)
    assert diff.columns == {"amount": (Decimal("690.58"), Decimal("0.01"))}
    assert result.mismatched_ranges == 4
    assert result.as_json()["different"][0]["columns"]["amount"] == {
        "expected": "690.58",
        "found": "0.01",
    }
    evidence = copied.store.latest_evidence("data", "GET /orders/{id}")
    assert evidence is not None
    assert not evidence.passed
    assert evidence.summary["counts"] == {"missing": 2, "extra": 2, "different": 1}


def test_repair_fixes_exactly_the_differences(copied: Shop) -> None:
    _plant(copied)
    with copied.new.begin() as conn:  # order 6 is cancelled in legacy
        conn.execute(update(shop.orders).where(shop.orders.c.id == 6).values(status="active"))
    fixed = verify(copied.mapping(), copied.dbs, copied.store, repair=True, recheck_delay=0)
    assert fixed.repaired
    assert fixed.clean
    assert sorted(d.key for d in fixed.different) == [(6,), (1234,)]
    assert (len(fixed.missing), len(fixed.extra)) == (2, 2)
    again = verify(copied.mapping(), copied.dbs, copied.store, recheck_delay=0)
    assert again.clean
    assert copied.count("orders") == 2940


def test_rows_changing_during_the_run_are_rechecked(copied: Shop) -> None:
    # A legacy row changed after its copy: the re-check still sees it, so it is reported.
    with copied.legacy.begin() as conn:
        conn.execute(update(shop.ORDERS).where(shop.ORDERS.c.ORD_ID == 10).values(CUST_NM="new"))
    assert [d.key for d in verify(copied.mapping(), copied.dbs, recheck_delay=0).different] == [
        (10,)
    ]

    # A catch-up copies it while verify is still reading the last range: not reported.
    def transform_then_catch_up(row: Any) -> Iterator[dict[str, Any]]:
        if row["ORD_ID"] == 3000:
            with copied.new.begin() as conn:
                conn.execute(
                    update(shop.orders).where(shop.orders.c.id == 10).values(customer="new")
                )
        return shop.order_rows(row)

    moving = dataclasses.replace(copied.mapping(), transform=transform_then_catch_up)
    result = verify(moving, copied.dbs, chunk=500, recheck_delay=0)
    assert result.clean
    assert result.mismatched_ranges == 1
    assert result.rechecked == 1


def test_sample_checks_part_and_never_proves(copied: Shop) -> None:
    result = verify(copied.mapping(), copied.dbs, copied.store, sample=300)
    assert result.clean
    assert 0 < result.ranges < 100
    with pytest.raises(MigrationError, match="sample only"):
        require_verified("orders", copied.config.store)


def test_composite_key_differences(sqlite_shop: Shop) -> None:
    sqlite_shop.add_lines(orders=30, lines=4)
    mapping = sqlite_shop.mapping("lines")
    backfill(mapping, sqlite_shop.dbs, sqlite_shop.store, batch=7)
    with sqlite_shop.new.begin() as conn:
        conn.execute(
            delete(shop.order_lines).where(
                shop.order_lines.c.order_id == 3, shop.order_lines.c.line_no == 1
            )
        )
        conn.execute(
            update(shop.order_lines)
            .where(shop.order_lines.c.order_id == 20, shop.order_lines.c.line_no == 4)
            .values(sku="wrong", quantity=99)
        )
    result = verify(mapping, sqlite_shop.dbs, chunk=10, recheck_delay=0)
    assert result.missing == ((3, 1),)
    (diff,) = result.different
    assert diff.key == (20, 4)
    assert set(diff.columns) == {"sku", "quantity"}
    assert verify(mapping, sqlite_shop.dbs, repair=True, recheck_delay=0).clean


def test_contract_helper_refuses_then_allows(copied: Shop) -> None:
    url = copied.config.store
    with pytest.raises(MigrationError, match="never verified"):
        require_verified("orders", url)
    _plant(copied)
    verify(copied.mapping(), copied.dbs, copied.store, recheck_delay=0)
    with pytest.raises(MigrationError, match="2 missing, 2 extra and 1 different"):
        require_verified("orders", url)
    verify(copied.mapping(), copied.dbs, copied.store, repair=True, recheck_delay=0)
    record = require_verified("orders", url)
    assert record.clean
