"""Tables of shadow results: per-minute aggregates, per-field counts, sampled exchanges.

Each proxy process writes rows under its own ``instance`` id, so several processes never
update the same row; reports add the rows up. Everything stored here was redacted first.

- ``shadow_minutes``: per route, minute and instance: requests shadowed, compared, match,
  noise, mismatch by severity, noise samples, not compared and dropped by reason, and two
  latency histograms (legacy, new; fixed buckets in milliseconds).
- ``shadow_fields``: per route, minute, instance and generalised field path: how often it
  was a real difference, noise, different against the candidate at all, and different
  between two answers of the primary (the noise statistics).
- ``shadow_exchanges``: a capped sample: every mismatch up to a cap per route and field,
  a sample of matches and noise; redacted request and both answers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from strangler.store.models import Base, UTCDateTime

__all__ = ["ShadowExchangeRow", "ShadowFieldRow", "ShadowMinuteRow"]


class ShadowMinuteRow(Base):
    """Aggregates of one route for one minute, from one proxy process."""

    __tablename__ = "shadow_minutes"
    __table_args__ = (
        UniqueConstraint("route", "minute", "instance", name="uq_shadow_minutes_key"),
        Index("ix_shadow_minutes_minute", "minute"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    route: Mapped[str] = mapped_column(String(300))
    minute: Mapped[datetime] = mapped_column(UTCDateTime)
    instance: Mapped[str] = mapped_column(String(64))
    requests: Mapped[int] = mapped_column(Integer, default=0)
    compared: Mapped[int] = mapped_column(Integer, default=0)
    matched: Mapped[int] = mapped_column(Integer, default=0)
    noise: Mapped[int] = mapped_column(Integer, default=0)
    mismatch_status: Mapped[int] = mapped_column(Integer, default=0)
    mismatch_schema: Mapped[int] = mapped_column(Integer, default=0)
    mismatch_value: Mapped[int] = mapped_column(Integer, default=0)
    mismatch_added: Mapped[int] = mapped_column(Integer, default=0)
    noise_samples: Mapped[int] = mapped_column(Integer, default=0)
    not_compared: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dropped: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    legacy_ms: Mapped[list[Any]] = mapped_column(JSON, default=list)
    new_ms: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # The mismatched exchanges by the set of fields they differed in:
    # {"$.at\n$.id": [count, worst severity]}; bounded per row (the rest under "*").
    signatures: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class ShadowFieldRow(Base):
    """How often one field differed, for one route and minute, from one proxy process."""

    __tablename__ = "shadow_fields"
    __table_args__ = (
        UniqueConstraint("route", "minute", "instance", "field", name="uq_shadow_fields_key"),
        Index("ix_shadow_fields_route_minute", "route", "minute"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    route: Mapped[str] = mapped_column(String(300))
    minute: Mapped[datetime] = mapped_column(UTCDateTime)
    instance: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(300))
    severity: Mapped[str] = mapped_column(String(16), default="")
    mismatches: Mapped[int] = mapped_column(Integer, default=0)
    noise: Mapped[int] = mapped_column(Integer, default=0)
    legacy_new: Mapped[int] = mapped_column(Integer, default=0)
    legacy_legacy: Mapped[int] = mapped_column(Integer, default=0)


class ShadowExchangeRow(Base):
    """One sampled, redacted exchange with its verdict."""

    __tablename__ = "shadow_exchanges"
    __table_args__ = (
        Index("ix_shadow_exchanges_route_at", "route", "at"),
        Index("ix_shadow_exchanges_route_field", "route", "field"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    route: Mapped[str] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    instance: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16), default="")
    field: Mapped[str] = mapped_column(String(300), default="")
    reason: Mapped[str] = mapped_column(String(300), default="")
    method: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(Text)
    query: Mapped[str] = mapped_column(Text, default="")
    request_headers: Mapped[list[Any]] = mapped_column(JSON, default=list)
    request_body: Mapped[str] = mapped_column(Text, default="")
    primary_side: Mapped[str] = mapped_column(String(16))
    candidate_side: Mapped[str] = mapped_column(String(16))
    primary_status: Mapped[int] = mapped_column(Integer)
    primary_headers: Mapped[list[Any]] = mapped_column(JSON, default=list)
    primary_body: Mapped[str] = mapped_column(Text, default="")
    primary_ms: Mapped[float] = mapped_column(Float, default=0.0)
    candidate_status: Mapped[int | None] = mapped_column(Integer)
    candidate_headers: Mapped[list[Any]] = mapped_column(JSON, default=list)
    candidate_body: Mapped[str] = mapped_column(Text, default="")
    candidate_ms: Mapped[float | None] = mapped_column(Float)
    candidate_error: Mapped[str] = mapped_column(Text, default="")
    differences: Mapped[list[Any]] = mapped_column(JSON, default=list)
    noise: Mapped[list[Any]] = mapped_column(JSON, default=list)
