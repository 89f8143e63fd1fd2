"""Store tables of the data-migration kit: backfill jobs, their chunks, verification verdicts.

Read and written only by the job log in :mod:`strangler.store.jobs`.

A backfill job checkpoints its key cursor, counts and heartbeat here after every batch, so a
killed run resumes where it stopped. Parallel workers claim ``backfill_chunks`` (key ranges
of one job). Every ``strangler verify`` leaves one row in ``verifications``; the contract
helper and readiness read the newest. Key values (cursor, chunk bounds, watermark) are JSON
in the tagged encoding of :mod:`strangler.store.keys`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from strangler.store.models import Base, UTCDateTime, utcnow

__all__ = ["BackfillChunkRow", "BackfillJobRow", "VerificationRow"]


class BackfillJobRow(Base):
    """One run of a mapping's backfill (``full``, ``catchup`` or ``repair``).

    ``state``: ``running`` → ``done`` (or ``failed``); a killed run stays ``running`` with an
    old heartbeat and is resumed by the next run of the same mapping and kind.
    """

    __tablename__ = "backfill_jobs"
    __table_args__ = (Index("ix_backfill_jobs_mapping_state", "mapping", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mapping: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="full")
    state: Mapped[str] = mapped_column(String(16), default="running")
    cursor: Mapped[Any | None] = mapped_column(JSON)
    end_key: Mapped[Any | None] = mapped_column(JSON)
    since_column: Mapped[str | None] = mapped_column(String(200))
    since: Mapped[Any | None] = mapped_column(JSON)
    watermark: Mapped[Any | None] = mapped_column(JSON)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    copied: Mapped[int] = mapped_column(BigInteger, default=0)
    written: Mapped[int] = mapped_column(BigInteger, default=0)
    skipped: Mapped[int] = mapped_column(BigInteger, default=0)
    failed: Mapped[int] = mapped_column(BigInteger, default=0)
    batch_size: Mapped[int] = mapped_column(Integer, default=1000)
    rate: Mapped[float | None] = mapped_column(Float)
    workers: Mapped[int] = mapped_column(Integer, default=1)
    owner: Mapped[str] = mapped_column(String(200), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    heartbeat: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BackfillChunkRow(Base):
    """A key range ``(lo, hi]`` of a job that one parallel worker claims and copies."""

    __tablename__ = "backfill_chunks"
    __table_args__ = (Index("ix_backfill_chunks_job_id_state", "job_id", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(Integer, ForeignKey("backfill_jobs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    lo: Mapped[Any | None] = mapped_column(JSON)
    hi: Mapped[Any | None] = mapped_column(JSON)
    cursor: Mapped[Any | None] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    copied: Mapped[int] = mapped_column(BigInteger, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat: Mapped[datetime | None] = mapped_column(UTCDateTime)


class VerificationRow(Base):
    """The verdict of one ``strangler verify`` of a mapping (the newest one counts)."""

    __tablename__ = "verifications"
    __table_args__ = (Index("ix_verifications_mapping_at", "mapping", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    mapping: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    clean: Mapped[bool] = mapped_column(Boolean)
    legacy_rows: Mapped[int] = mapped_column(BigInteger, default=0)
    new_rows: Mapped[int] = mapped_column(BigInteger, default=0)
    missing: Mapped[int] = mapped_column(Integer, default=0)
    extra: Mapped[int] = mapped_column(Integer, default=0)
    different: Mapped[int] = mapped_column(Integer, default=0)
    repaired: Mapped[bool] = mapped_column(Boolean, default=False)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
