"""Data mappings legacy -> new, one per table, for ``strangler backfill`` and ``verify``.

The legacy tables are declared here as SQLAlchemy tables (legacy has no models); the
targets are the rewrite's tables. Each transform is a plain function of one legacy row::

    >>> from datetime import UTC, datetime
    >>> row = {"ORG_ID": 1, "ORG_SLUG": "hope", "ORG_NM": "Hope", "ORG_CTRY_CD": "FR",
    ...        "ORG_CRT_DT": "23/11/2026 14:05", "LST_UPD_TS": "20261123140500", "DEL_FLG": "N"}
    >>> org_rows(row)[0]["created_at"]
    datetime.datetime(2026, 11, 23, 13, 5, tzinfo=datetime.timezone.utc)

In the config (see ``examples/strangler.yaml``)::

    databases: {legacy: "sqlite:///legacy.db", new: "sqlite:///new.db"}
    mappings: {organisations: "examples.mappings:ORGANISATIONS", ...}

:func:`copy_all` copies everything in one go without the kit (the example tests use it to
build a new database quickly; the demo uses ``strangler backfill``).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping as AbcMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, insert

from examples.legacy.schema import LOCAL_TZ, connect, local_text_to_utc
from examples.new.models import Form, Order, Organisation, Payment, create_schema
from migrations.mapping import Mapping

__all__ = [
    "FORMS",
    "MAPPINGS",
    "ORDERS",
    "ORGANISATIONS",
    "PAYMENTS",
    "copy_all",
    "form_rows",
    "order_rows",
    "org_rows",
    "payment_rows",
]

Row = AbcMapping[str, Any]

legacy = MetaData()


def _text(name: str, length: int, **kw: Any) -> Column[str]:
    return Column(name, String(length), **kw)


T_ORG = Table(
    "T_ORG",
    legacy,
    Column("ORG_ID", Integer, primary_key=True),
    *(_text(n, size) for n, size in [("ORG_SLUG", 60), ("ORG_NM", 120), ("ORG_CTRY_CD", 2)]),
    *(_text(n, size) for n, size in [("ORG_CRT_DT", 16), ("LST_UPD_TS", 14), ("DEL_FLG", 1)]),
)
T_FRM = Table(
    "T_FRM",
    legacy,
    Column("FRM_ID", Integer, primary_key=True),
    Column("ORG_ID", Integer),
    *(_text(n, size) for n, size in [("FRM_SLUG", 60), ("FRM_TTL", 160), ("FRM_TYP_CD", 3)]),
    _text("FRM_GOAL_AMT", 12, nullable=True),
    *(_text(n, size) for n, size in [("FRM_CRT_DT", 16), ("LST_UPD_TS", 14), ("DEL_FLG", 1)]),
)
T_ORD = Table(
    "T_ORD",
    legacy,
    Column("ORD_ID", Integer, primary_key=True),
    Column("FRM_ID", Integer),
    *(_text(n, size) for n, size in [("ORD_REF", 20), ("ORD_PAYR_NM", 120)]),
    *(_text(n, size) for n, size in [("ORD_PAYR_EML", 160), ("ORD_AMT", 12), ("ORD_STS_CD", 1)]),
    *(_text(n, size) for n, size in [("ORD_CRT_DT", 16), ("LST_UPD_TS", 14), ("DEL_FLG", 1)]),
)
T_PAY = Table(
    "T_PAY",
    legacy,
    Column("PAY_ID", Integer, primary_key=True),
    Column("ORD_ID", Integer),
    *(_text(n, size) for n, size in [("PAY_REF", 20), ("PAY_AMT", 12), ("PAY_FEE_AMT", 12)]),
    *(_text(n, size) for n, size in [("PAY_IDEM_KEY", 80), ("PAY_STS_CD", 1)]),
    *(_text(n, size) for n, size in [("PAY_DT", 16), ("LST_UPD_TS", 14)]),
)

KINDS = {"DON": "donation", "MBR": "membership", "TKT": "ticket"}
ORDER_STATUSES = {"P": "pending", "C": "paid", "R": "refunded", "X": "cancelled"}
PAYMENT_STATUSES = {"S": "succeeded", "R": "refunded"}


def _stamp(text: str) -> datetime:
    """Legacy's 'YYYYMMDDHHMMSS' (Paris time) as a UTC datetime."""
    naive = datetime.strptime(text, "%Y%m%d%H%M%S")
    return naive.replace(tzinfo=LOCAL_TZ).astimezone(UTC)


def _lifecycle(r: Row, created: str) -> dict[str, Any]:
    updated = _stamp(r["LST_UPD_TS"])
    out: dict[str, Any] = {"created_at": local_text_to_utc(r[created]), "updated_at": updated}
    if "DEL_FLG" in r.keys():  # noqa: SIM118 - sqlite3.Row has keys() but no __contains__ by name
        # Legacy only has a flag: the last update is the best "deleted at" there is.
        out["deleted_at"] = updated if r["DEL_FLG"] == "Y" else None
    return out


def org_rows(r: Row) -> list[dict[str, Any]]:
    return [
        {
            "id": r["ORG_ID"],
            "slug": r["ORG_SLUG"],
            "name": r["ORG_NM"],
            "country_code": r["ORG_CTRY_CD"],
            **_lifecycle(r, "ORG_CRT_DT"),
        }
    ]


def form_rows(r: Row) -> list[dict[str, Any]]:
    goal = r["FRM_GOAL_AMT"]
    return [
        {
            "id": r["FRM_ID"],
            "organisation_id": r["ORG_ID"],
            "slug": r["FRM_SLUG"],
            "title": r["FRM_TTL"],
            "kind": KINDS[r["FRM_TYP_CD"]],
            "goal_cents": int(goal) if goal else None,
            **_lifecycle(r, "FRM_CRT_DT"),
        }
    ]


def order_rows(r: Row) -> list[dict[str, Any]]:
    return [
        {
            "id": r["ORD_ID"],
            "form_id": r["FRM_ID"],
            "reference": r["ORD_REF"],
            "payer_name": r["ORD_PAYR_NM"],
            "payer_email": r["ORD_PAYR_EML"],
            "amount_cents": int(r["ORD_AMT"]),
            "status": ORDER_STATUSES[r["ORD_STS_CD"]],
            **_lifecycle(r, "ORD_CRT_DT"),
        }
    ]


def payment_rows(r: Row) -> list[dict[str, Any]]:
    return [
        {
            "id": r["PAY_ID"],
            "order_id": r["ORD_ID"],
            "reference": r["PAY_REF"],
            "amount_cents": int(r["PAY_AMT"]),
            "fee_cents": int(r["PAY_FEE_AMT"]),
            "idempotency_key": r["PAY_IDEM_KEY"],
            "status": PAYMENT_STATUSES[r["PAY_STS_CD"]],
            "taken_at": local_text_to_utc(r["PAY_DT"]),
            "updated_at": _stamp(r["LST_UPD_TS"]),
        }
    ]


ORGANISATIONS = Mapping(
    name="organisations",
    source=T_ORG,
    key="ORG_ID",
    transform=org_rows,
    target=Organisation.__table__,  # type: ignore[arg-type]
    target_key="id",
    updated_at="LST_UPD_TS",
    routes=("GET /orgs", "GET /orgs/{slug}"),
)
FORMS = Mapping(
    name="forms",
    source=T_FRM,
    key="FRM_ID",
    transform=form_rows,
    target=Form.__table__,  # type: ignore[arg-type]
    target_key="id",
    updated_at="LST_UPD_TS",
    routes=("GET /orgs/{slug}/forms", "GET /orgs/{slug}/forms/{form}"),
)
ORDERS = Mapping(
    name="orders",
    source=T_ORD,
    key="ORD_ID",
    transform=order_rows,
    target=Order.__table__,  # type: ignore[arg-type]
    target_key="id",
    updated_at="LST_UPD_TS",
    routes=("GET /orgs/{slug}/orders", "GET /orders/{ref}"),
)
PAYMENTS = Mapping(
    name="payments",
    source=T_PAY,
    key="PAY_ID",
    transform=payment_rows,
    target=Payment.__table__,  # type: ignore[arg-type]
    target_key="id",
    updated_at="LST_UPD_TS",
    routes=("GET /payments/{ref}",),
)
MAPPINGS: dict[str, Mapping] = {
    m.name: m for m in (ORGANISATIONS, FORMS, ORDERS, PAYMENTS)
}  # in foreign-key order

_TRANSFORMS: tuple[tuple[str, Callable[[Row], list[dict[str, Any]]], Table], ...] = tuple(
    (m.source.name, m.transform, m.target)  # type: ignore[misc, union-attr]
    for m in MAPPINGS.values()
)


def copy_all(legacy_db: str | Path, new_db: str | Path) -> dict[str, int]:
    """Create the new schema in ``new_db`` and copy every legacy row through the mappings.

    Returns the rows written per new table. The tests use it; real migrations use
    ``strangler backfill`` (batched, resumable, verified).
    """
    src = connect(legacy_db)
    engine = create_schema(f"sqlite:///{new_db}")
    counts: dict[str, int] = {}
    try:
        with engine.begin() as conn:
            for table_name, transform, target in _TRANSFORMS:
                rows = [
                    out
                    for r in src.execute(f"SELECT * FROM {table_name} ORDER BY 1")
                    for out in transform(r)
                ]
                conn.execute(target.delete())
                if rows:
                    conn.execute(insert(target), rows)
                counts[target.name] = len(rows)
    finally:
        src.close()
        engine.dispose()
    return counts
