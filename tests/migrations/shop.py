"""A legacy shop schema (odd names, cents as text, local-time text dates) and its mappings."""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Mapping as RowMapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    case,
    cast,
    func,
    select,
)

from migrations import Mapping

PARIS = ZoneInfo("Europe/Paris")

legacy = MetaData()
ORDERS = Table(
    "ORDERS",
    legacy,
    Column("ORD_ID", Integer, primary_key=True, autoincrement=False),
    Column("CUST_NM", String(100)),
    Column("AMT_CTS", String(20)),
    Column("ORD_DT", String(19)),
    Column("STAT_CD", String(1)),
    Column("UPD_TS", DateTime),
)
ORD_LN = Table(
    "ORD_LN",
    legacy,
    Column("ORD_NO", Integer, primary_key=True, autoincrement=False),
    Column("LN_NO", Integer, primary_key=True, autoincrement=False),
    Column("SKU_CD", String(20)),
    Column("QTY", String(10)),
    Column("PRC_CTS", String(20)),
)

new = MetaData()
orders = Table(
    "orders",
    new,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("customer", String(100)),
    Column("amount", Numeric(12, 2)),
    Column("ordered_at", DateTime(timezone=True)),
    Column("status", String(16)),
)
order_lines = Table(
    "order_lines",
    new,
    Column("order_id", Integer, primary_key=True, autoincrement=False),
    Column("line_no", Integer, primary_key=True, autoincrement=False),
    Column("sku", String(20)),
    Column("quantity", Integer),
    Column("unit_price", Numeric(12, 2)),
)

STATUS = {"A": "active", "C": "cancelled"}


def local_to_utc(text: str) -> datetime:
    """Legacy dates are Paris wall-clock text."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=PARIS).astimezone(UTC)


def order_rows(r: RowMapping[str, Any]) -> Iterator[dict[str, Any]]:
    if r["STAT_CD"] == "X":  # test orders never reach the new schema
        return
    yield {
        "id": r["ORD_ID"],
        "customer": r["CUST_NM"].strip(),
        "amount": Decimal(int(r["AMT_CTS"])) / 100,
        "ordered_at": local_to_utc(r["ORD_DT"]),
        "status": STATUS[r["STAT_CD"]],
    }


def line_rows(r: RowMapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "order_id": r["ORD_NO"],
            "line_no": r["LN_NO"],
            "sku": r["SKU_CD"].lower(),
            "quantity": int(r["QTY"]),
            "unit_price": Decimal(int(r["PRC_CTS"])) / 100,
        }
    ]


ORDERS_MAPPING = Mapping(
    name="orders",
    source=ORDERS,
    key="ORD_ID",
    transform=order_rows,
    target=orders,
    target_key="id",
    updated_at="UPD_TS",
    routes=("GET /orders/{id}",),
)

LINES_MAPPING = Mapping(
    name="lines",
    source=select(ORD_LN).where(ORD_LN.c.QTY != "0"),
    key=("ORD_NO", "LN_NO"),
    transform=line_rows,
    target=order_lines,
    target_key=("order_id", "line_no"),
)

# The same lines mapped in SQL (every line, zero quantities included): when legacy and new are
# one database, the backfill runs as INSERT ... SELECT.
LINES_SQL_MAPPING = Mapping(
    name="lines_sql",
    source=ORD_LN,
    key=("ORD_NO", "LN_NO"),
    transform=None,
    target=order_lines,
    target_key=("order_id", "line_no"),
    columns={
        "order_id": ORD_LN.c.ORD_NO,
        "line_no": ORD_LN.c.LN_NO,
        "sku": func.lower(ORD_LN.c.SKU_CD),
        "quantity": cast(ORD_LN.c.QTY, Integer),
        "unit_price": cast(cast(ORD_LN.c.PRC_CTS, Integer) / 100.0, Numeric(12, 2)),
    },
)

# Orders mapped in SQL (an integer key: verify sums spans of key values in one query per side).
ORDERS_SQL_MAPPING = Mapping(
    name="orders_sql",
    source=ORDERS,
    key="ORD_ID",
    transform=None,
    target=orders,
    target_key="id",
    columns={
        "id": ORDERS.c.ORD_ID,
        "customer": func.trim(ORDERS.c.CUST_NM),
        "amount": cast(cast(ORDERS.c.AMT_CTS, Numeric(12, 2)) / 100.0, Numeric(12, 2)),
        "ordered_at": ORDERS.c.UPD_TS,
        "status": case((ORDERS.c.STAT_CD == "A", "active"), (ORDERS.c.STAT_CD == "C", "cancelled")),
    },
)


def order_row(i: int, *, updated: datetime | None = None) -> dict[str, Any]:
    """Legacy order ``i``: deterministic values, some skipped (status X)."""
    return {
        "ORD_ID": i,
        "CUST_NM": f" customer {i % 97} ",
        "AMT_CTS": f"{(i * 137) % 100000:07d}",
        "ORD_DT": f"2024-{(i % 12) + 1:02d}-{(i % 28) + 1:02d} {i % 24:02d}:{i % 60:02d}:00",
        "STAT_CD": "X" if i % 50 == 0 else ("A" if i % 3 else "C"),
        "UPD_TS": updated or datetime(2024, 1, 1),
    }


def line_row(order: int, line: int) -> dict[str, Any]:
    return {
        "ORD_NO": order,
        "LN_NO": line,
        "SKU_CD": f"SKU-{order}-{line}",
        "QTY": str((order + line) % 5),
        "PRC_CTS": str(100 + order * line),
    }
