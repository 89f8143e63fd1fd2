"""The seed is deterministic and the mappings turn legacy quirks into the clean schema."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from examples.mappings import copy_all, form_rows, order_rows, org_rows, payment_rows
from examples.seed import seed


def _digest(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()


def test_the_same_seed_gives_the_same_rows(tmp_path: Path) -> None:
    a = seed(tmp_path / "a.db", seed=3, orgs=40, orders=300)
    b = seed(tmp_path / "b.db", seed=3, orgs=40, orders=300)
    c = seed(tmp_path / "c.db", seed=4, orgs=40, orders=300)
    assert (a.orgs, a.orders) == (40, 300)
    assert a.forms >= 120
    assert a.payments > 150
    assert _digest(a.path) == _digest(b.path) != _digest(c.path)
    with sqlite3.connect(a.path) as conn:
        amount, date = conn.execute("SELECT ORD_AMT, ORD_CRT_DT FROM T_ORD LIMIT 1").fetchone()
    assert len(amount) == 6  # strings of cents, '001250'
    assert amount.isdigit()
    assert datetime.strptime(date, "%d/%m/%Y %H:%M")  # local time text, to the minute


def test_seeding_replaces_an_existing_file(tmp_path: Path) -> None:
    seed(tmp_path / "a.db", orgs=10, orders=20)
    again = seed(tmp_path / "a.db", orgs=12, orders=20)
    with sqlite3.connect(again.path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM T_ORG").fetchone()[0] == 12


def test_transforms_turn_legacy_quirks_into_the_new_schema() -> None:
    org = org_rows(
        {
            "ORG_ID": 4,
            "ORG_SLUG": "hope",
            "ORG_NM": "Hope",
            "ORG_CTRY_CD": "FR",
            "ORG_CRT_DT": "15/07/2026 14:05",  # summer time in Paris: UTC+2
            "LST_UPD_TS": "20261123140500",  # winter: UTC+1
            "DEL_FLG": "Y",
        }
    )[0]
    assert org["created_at"] == datetime(2026, 7, 15, 12, 5, tzinfo=UTC)
    assert org["deleted_at"] == org["updated_at"] == datetime(2026, 11, 23, 13, 5, tzinfo=UTC)
    form = form_rows(
        {
            "FRM_ID": 9,
            "ORG_ID": 4,
            "FRM_SLUG": "don",
            "FRM_TTL": "Don",
            "FRM_TYP_CD": "DON",
            "FRM_GOAL_AMT": "00500000",
            "FRM_CRT_DT": "01/01/2026 00:30",
            "LST_UPD_TS": "20260101003000",
            "DEL_FLG": "N",
        }
    )[0]
    assert (form["kind"], form["goal_cents"], form["deleted_at"]) == ("donation", 500000, None)
    assert form["created_at"] == datetime(2025, 12, 31, 23, 30, tzinfo=UTC)
    order = order_rows(
        {
            "ORD_ID": 1,
            "FRM_ID": 9,
            "ORD_REF": "ORD-000001",
            "ORD_PAYR_NM": "Léa",
            "ORD_PAYR_EML": "l@example.org",
            "ORD_AMT": "001250",
            "ORD_STS_CD": "C",
            "ORD_CRT_DT": "01/01/2026 00:30",
            "LST_UPD_TS": "20260101003000",
            "DEL_FLG": "N",
        }
    )[0]
    assert (order["amount_cents"], order["status"]) == (1250, "paid")
    payment = payment_rows(
        {
            "PAY_ID": 2,
            "ORD_ID": 1,
            "PAY_REF": "PAY-000002",
            "PAY_AMT": "001250",
            "PAY_FEE_AMT": "000043",
            "PAY_IDEM_KEY": "k",
            "PAY_STS_CD": "R",
            "PAY_DT": "01/01/2026 00:31",
            "LST_UPD_TS": "20260102000000",
        }
    )[0]
    assert (payment["fee_cents"], payment["status"]) == (43, "refunded")
    assert "deleted_at" not in payment


def test_copy_all_builds_the_new_database_from_the_models(tmp_path: Path) -> None:
    s = seed(tmp_path / "legacy.db", orgs=20, orders=100)
    counts = copy_all(s.path, tmp_path / "new.db")
    assert counts == {
        "organisations": s.orgs,
        "forms": s.forms,
        "orders": s.orders,
        "payments": s.payments,
    }
    with sqlite3.connect(tmp_path / "new.db") as conn:
        deleted = conn.execute("SELECT COUNT(*) FROM orders WHERE deleted_at IS NOT NULL")
        assert (
            deleted.fetchone()[0]
            == conn.execute("ATTACH ? AS legacy", (str(s.path),))
            .execute("SELECT COUNT(*) FROM legacy.T_ORD WHERE DEL_FLG = 'Y'")
            .fetchone()[0]
        )
    assert copy_all(s.path, tmp_path / "new.db") == counts  # rerunnable
