"""The legacy database: upper-case abbreviated names, amounts as strings of cents,
local-time text dates (Europe/Paris, to the minute) and soft deletes by flag.

Nobody would design it this way today; every real legacy schema has a few of these.

>>> conn = connect(":memory:")
>>> create_schema(conn)
>>> [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY 1")]
['T_FRM', 'T_ORD', 'T_ORG', 'T_PAY']
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

__all__ = [
    "DDL",
    "LOCAL_TZ",
    "cents_text",
    "connect",
    "create_schema",
    "legacy_fee_cents",
    "local_text",
    "local_text_to_utc",
    "money",
    "parse_money",
    "stamp_text",
]

LOCAL_TZ = ZoneInfo("Europe/Paris")

DDL = """
CREATE TABLE IF NOT EXISTS T_ORG (
    ORG_ID      INTEGER PRIMARY KEY,
    ORG_SLUG    VARCHAR(60) NOT NULL UNIQUE,
    ORG_NM      VARCHAR(120) NOT NULL,
    ORG_CTRY_CD CHAR(2) NOT NULL,
    ORG_CRT_DT  VARCHAR(16) NOT NULL,      -- 'DD/MM/YYYY HH:MM', Europe/Paris
    LST_UPD_TS  VARCHAR(14) NOT NULL,      -- 'YYYYMMDDHHMMSS', Europe/Paris
    DEL_FLG     CHAR(1) NOT NULL DEFAULT 'N'
);
CREATE TABLE IF NOT EXISTS T_FRM (
    FRM_ID       INTEGER PRIMARY KEY,
    ORG_ID       INTEGER NOT NULL REFERENCES T_ORG (ORG_ID),
    FRM_SLUG     VARCHAR(60) NOT NULL,
    FRM_TTL      VARCHAR(160) NOT NULL,
    FRM_TYP_CD   CHAR(3) NOT NULL,         -- DON donation, MBR membership, TKT ticket
    FRM_GOAL_AMT VARCHAR(12),              -- cents, zero-padded: '00500000'
    FRM_CRT_DT   VARCHAR(16) NOT NULL,
    LST_UPD_TS   VARCHAR(14) NOT NULL,
    DEL_FLG      CHAR(1) NOT NULL DEFAULT 'N',
    UNIQUE (ORG_ID, FRM_SLUG)
);
CREATE TABLE IF NOT EXISTS T_ORD (
    ORD_ID       INTEGER PRIMARY KEY,
    FRM_ID       INTEGER NOT NULL REFERENCES T_FRM (FRM_ID),
    ORD_REF      VARCHAR(20) UNIQUE,
    ORD_PAYR_NM  VARCHAR(120) NOT NULL,
    ORD_PAYR_EML VARCHAR(160) NOT NULL,
    ORD_AMT      VARCHAR(12) NOT NULL,     -- cents, zero-padded: '001250'
    ORD_STS_CD   CHAR(1) NOT NULL,         -- P pending, C completed, R refunded, X cancelled
    ORD_CRT_DT   VARCHAR(16) NOT NULL,
    LST_UPD_TS   VARCHAR(14) NOT NULL,
    DEL_FLG      CHAR(1) NOT NULL DEFAULT 'N'
);
CREATE TABLE IF NOT EXISTS T_PAY (
    PAY_ID       INTEGER PRIMARY KEY,
    ORD_ID       INTEGER NOT NULL REFERENCES T_ORD (ORD_ID),
    PAY_REF      VARCHAR(20) UNIQUE,
    PAY_AMT      VARCHAR(12) NOT NULL,
    PAY_FEE_AMT  VARCHAR(12) NOT NULL,
    PAY_IDEM_KEY VARCHAR(80) NOT NULL UNIQUE,
    PAY_STS_CD   CHAR(1) NOT NULL,         -- S succeeded, R refunded
    PAY_DT       VARCHAR(16) NOT NULL,
    LST_UPD_TS   VARCHAR(14) NOT NULL
);
CREATE INDEX IF NOT EXISTS IX_FRM_ORG ON T_FRM (ORG_ID);
CREATE INDEX IF NOT EXISTS IX_ORD_FRM ON T_ORD (FRM_ID);
CREATE INDEX IF NOT EXISTS IX_PAY_ORD ON T_PAY (ORD_ID);
"""


def connect(path: str | Path) -> sqlite3.Connection:
    """Open the legacy SQLite file (rows as :class:`sqlite3.Row`, waits on locks)."""
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA busy_timeout = 30000")
    if str(path) != ":memory:":
        conn.execute("PRAGMA journal_mode = WAL")
    return conn


def create_schema(conn: sqlite3.Connection) -> None:
    """Create the legacy tables if they do not exist."""
    conn.executescript(DDL)


def cents_text(cents: int) -> str:
    """``1250 -> '001250'``: how legacy stores an amount."""
    return f"{cents:06d}"


def money(cents_or_text: int | str) -> str:
    """``'001250' -> '12.50'``: the API shows amounts as decimal strings."""
    cents = int(cents_or_text)
    return f"{cents // 100}.{cents % 100:02d}"


def parse_money(text: object) -> int | None:
    """``'12.50' -> 1250``; None when it is not a positive amount with at most 2 decimals."""
    try:
        value = Decimal(str(text))
    except ArithmeticError:
        return None
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")):
        return None
    return int(value * 100)


def legacy_fee_cents(amount_cents: int) -> int:
    """The platform fee: 1.4 % + 0.25 EUR, rounded half-up to the cent (done right)."""
    return int((Decimal(amount_cents) * Decimal("0.014")).quantize(Decimal(1), ROUND_HALF_UP)) + 25


def local_text(moment: datetime) -> str:
    """A UTC moment as legacy writes it: ``'23/11/2026 14:05'`` in Paris time."""
    return moment.astimezone(LOCAL_TZ).strftime("%d/%m/%Y %H:%M")


def stamp_text(moment: datetime) -> str:
    """A UTC moment as legacy's last-update stamp: ``'20261123140500'`` in Paris time."""
    return moment.astimezone(LOCAL_TZ).strftime("%Y%m%d%H%M%S")


def local_text_to_utc(text: str) -> datetime:
    """``'23/11/2026 14:05' -> 2026-11-23 13:05 UTC`` (an ambiguous autumn hour: the first)."""
    naive = datetime.strptime(text, "%d/%m/%Y %H:%M")
    return naive.replace(tzinfo=LOCAL_TZ).astimezone(UTC)
