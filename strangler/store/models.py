"""SQLAlchemy 2 models of the store's own schema (Alembic owns its evolution).

Every table lives on :data:`Base.metadata`; other areas (shadow results, backfill jobs,
parity and load results) add their tables in their own modules of this package, and a
revision under ``strangler/store/alembic/versions``. ``tests/store/test_schema.py`` proves the
models and the migrations agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "EvidenceRow",
    "FlipRow",
    "RouteStateRow",
    "StateVersionRow",
    "UTCDateTime",
    "utcnow",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every engine (SQLite and MariaDB keep naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None) if dialect.name != "postgresql" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class RouteStateRow(Base):
    """The live mode of a route once it has been flipped (the config gives the initial one)."""

    __tablename__ = "route_state"

    route: Mapped[str] = mapped_column(String(300), primary_key=True)
    mode: Mapped[str] = mapped_column(String(16))
    percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    # Set by an automatic rollback: the route does not step forward until a person flips it.
    held: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_flip_id: Mapped[int | None] = mapped_column(Integer)


class FlipRow(Base):
    """The audit log: one row per change of a route's mode (who, when, from, to, why)."""

    __tablename__ = "flips"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    route: Mapped[str] = mapped_column(String(300), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(200))
    from_mode: Mapped[str] = mapped_column(String(16))
    to_mode: Mapped[str] = mapped_column(String(16))
    from_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    to_percent: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    reason: Mapped[str] = mapped_column(Text, default="")
    forced: Mapped[bool] = mapped_column(Boolean, default=False)
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)


class StateVersionRow(Base):
    """One row whose counter is bumped by every flip; proxies poll it to reload cheaply."""

    __tablename__ = "state_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


class EvidenceRow(Base):
    """A result that readiness reads: a parity run, a load gate, a data verification.

    ``kind`` is ``parity``, ``load`` or ``data``; ``route`` the route it speaks for (one row
    per linked route); ``subject`` what produced it (a mapping name, a run id).
    """

    __tablename__ = "evidence"
    __table_args__ = (Index("ix_evidence_kind_route_at", "kind", "route", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    route: Mapped[str | None] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    passed: Mapped[bool] = mapped_column(Boolean)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
