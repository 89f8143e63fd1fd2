"""Verification of ``columns=`` mappings by key-range checksums computed in the databases."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    delete,
    insert,
    update,
)

from migrations import Mapping, backfill, verify
from migrations.checksum import ChecksumPlan
from tests.migrations import shop
from tests.migrations.conftest import Shop


def _plant(s: Shop) -> None:
    lines = shop.order_lines
    with s.new.begin() as conn:
        conn.execute(delete(lines).where(lines.c.order_id == 7, lines.c.line_no == 2))  # missing
        conn.execute(
            insert(lines).values(order_id=150, line_no=9, sku="ghost", quantity=1)
        )  # extra, inside the key space
        conn.execute(insert(lines).values(order_id=9_999, line_no=1, sku="ghost"))  # past the end
        conn.execute(
            update(lines)
            .where(lines.c.order_id == 233, lines.c.line_no == 3)
            .values(unit_price=Decimal("0.01"))
        )  # different
        conn.execute(
            update(lines).where(lines.c.order_id == 90, lines.c.line_no == 1).values(sku=None)
        )  # a value became NULL


def _check(s: Shop) -> None:
    s.add_lines(orders=300, lines=5)
    mapping = s.mapping("lines_sql")
    backfill(mapping, s.dbs, s.store)
    clean = verify(mapping, s.dbs, chunk=200)
    assert clean.clean, clean.as_json()
    assert clean.details["checksums"] in ("md5", "postgresql")
    assert clean.details["ranges_bisected"] == 0
    assert clean.ranges == 8  # 1500 legacy rows: 7 ranges of 200, the rest to the open end
    _plant(s)
    found = verify(mapping, s.dbs, chunk=200, recheck_delay=0)
    assert not found.clean
    assert found.missing == ((7, 2),)
    assert sorted(found.extra) == [(150, 9), (9_999, 1)]
    assert [(d.key, d.columns) for d in sorted(found.different, key=lambda d: d.key)] == [
        ((90, 1), {"sku": ("sku-90-1", None)}),
        ((233, 3), {"unit_price": (Decimal("7.99"), Decimal("0.01"))}),
    ]
    # Ranges of 200 rows are already small enough to be compared row by row.
    assert found.mismatched_ranges == 5  # orders 1-40, 81-120, 121-160, 201-240, past 300
    assert found.details["ranges_bisected"] == 5
    repaired = verify(mapping, s.dbs, chunk=200, repair=True, recheck_delay=0)
    assert repaired.clean
    assert verify(mapping, s.dbs, chunk=200).clean


def test_sqlite_two_files(make_shop: Callable[..., Shop], tmp_path: Path) -> None:
    _check(make_shop(f"sqlite:///{tmp_path / 'legacy.db'}", f"sqlite:///{tmp_path / 'new.db'}"))


@pytest.mark.postgres
def test_postgresql_one_database(make_shop: Callable[..., Shop], postgres_url: str) -> None:
    _check(make_shop(postgres_url, postgres_url))


@pytest.mark.postgres
@pytest.mark.mariadb
def test_legacy_mariadb_to_new_postgresql(
    make_shop: Callable[..., Shop], mariadb_url: str, postgres_url: str
) -> None:
    _check(make_shop(mariadb_url, postgres_url))


def test_large_ranges_are_bisected_down_to_rows(sqlite_shop: Shop) -> None:
    sqlite_shop.add_lines(orders=1000, lines=5)
    mapping = sqlite_shop.mapping("lines_sql")
    backfill(mapping, sqlite_shop.dbs, sqlite_shop.store)
    with sqlite_shop.new.begin() as conn:
        conn.execute(
            update(shop.order_lines)
            .where(shop.order_lines.c.order_id == 777, shop.order_lines.c.line_no == 4)
            .values(quantity=42)
        )
    result = verify(mapping, sqlite_shop.dbs, chunk=5000, recheck_delay=0)
    assert [(d.key, d.columns) for d in result.different] == [((777, 4), {"quantity": (1, 42)})]
    assert (result.ranges, result.mismatched_ranges) == (2, 1)
    # 5000 rows halved three times: one range of at most 1000 rows compared row by row.
    assert result.details["ranges_bisected"] == 1


def test_plan_needs_sql_columns_of_known_types() -> None:
    meta = MetaData()
    src = Table("src", meta, Column("id", Integer, primary_key=True), Column("v", String))
    floats = Table("floats", meta, Column("id", Integer, primary_key=True), Column("v", Numeric))
    stamps = Table("stamps", meta, Column("id", Integer, primary_key=True), Column("v", DateTime))

    def mapping(target: Table) -> Mapping:
        return Mapping("m", src, "id", None, target, columns={"id": src.c.id, "v": src.c.v})

    assert ChecksumPlan.for_mapping(shop.LINES_SQL_MAPPING, "mariadb", "postgresql") is not None
    assert ChecksumPlan.for_mapping(shop.LINES_MAPPING, "sqlite", "sqlite") is None  # Python
    assert ChecksumPlan.for_mapping(mapping(floats), "postgresql", "postgresql") is None
    pg = ChecksumPlan.for_mapping(mapping(stamps), "postgresql", "postgresql")
    assert pg is not None
    assert (pg.family, pg.micro) == ("postgresql", True)
    lite = ChecksumPlan.for_mapping(mapping(stamps), "sqlite", "postgresql")
    assert lite is not None
    assert (lite.family, lite.micro) == ("md5", False)


def _check_integer_key(s: Shop) -> None:
    s.add_orders(range(1, 2501), updated=datetime(2024, 3, 4, 5, 6, 7))
    mapping = shop.ORDERS_SQL_MAPPING
    backfill(mapping, s.dbs, s.store)
    clean = verify(mapping, s.dbs, chunk=300)
    assert clean.clean, clean.as_json()
    assert (clean.legacy_rows, clean.new_rows, clean.ranges) == (2500, 2500, 9)
    orders = shop.orders
    with s.new.begin() as conn:
        conn.execute(delete(orders).where(orders.c.id == 5))  # missing
        conn.execute(insert(orders).values(id=3_000_000, customer="ghost"))  # extra, far away
        conn.execute(
            update(orders)
            .where(orders.c.id == 1500)
            .values(ordered_at=datetime(2024, 3, 4, 5, 6, 8, tzinfo=UTC))
        )  # one second later
        conn.execute(update(orders).where(orders.c.id == 2001).values(status=None))
    found = verify(mapping, s.dbs, chunk=300, recheck_delay=0)
    assert found.missing == ((5,),)
    assert found.extra == ((3_000_000,),)
    assert sorted((d.key, set(d.columns)) for d in found.different) == [
        ((1500,), {"ordered_at"}),
        ((2001,), {"status"}),
    ]
    assert (found.legacy_rows, found.new_rows, found.mismatched_ranges) == (2500, 2500, 4)
    assert verify(mapping, s.dbs, repair=True, recheck_delay=0).clean


def test_integer_key_sqlite_two_files(make_shop: Callable[..., Shop], tmp_path: Path) -> None:
    _check_integer_key(
        make_shop(f"sqlite:///{tmp_path / 'legacy.db'}", f"sqlite:///{tmp_path / 'new.db'}")
    )


@pytest.mark.postgres
def test_integer_key_postgresql(make_shop: Callable[..., Shop], postgres_url: str) -> None:
    _check_integer_key(make_shop(postgres_url, postgres_url))


@pytest.mark.postgres
@pytest.mark.mariadb
def test_integer_key_mariadb_to_postgresql(
    make_shop: Callable[..., Shop], mariadb_url: str, postgres_url: str
) -> None:
    _check_integer_key(make_shop(mariadb_url, postgres_url))
