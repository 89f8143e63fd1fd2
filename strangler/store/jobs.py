"""The job log of the data-migration kit: backfill jobs, their chunks, verification verdicts.

Every call is one short store transaction and returns plain values. Workers are
``host:pid``; a chunk held by a dead process on this host, or whose heartbeat is older than
``stale_after`` seconds, may be claimed by another worker::

    >>> log = JobLog(store)                                   # doctest: +SKIP
    >>> job = log.create(mapping="orders", kind="full", ranges=[(None, None)])  # doctest: +SKIP
    >>> chunk = log.claim(job.id)                             # doctest: +SKIP
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from strangler.store.job_models import BackfillChunkRow, BackfillJobRow, VerificationRow
from strangler.store.keys import Key, decode_key, decode_value, encode_key, encode_value
from strangler.store.models import utcnow
from strangler.store.repository import Store

__all__ = ["Chunk", "Job", "JobLog", "VerificationRecord", "worker_id"]


def worker_id() -> str:
    """``host:pid`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(owner: str | None) -> bool:
    """Whether ``owner`` may still be working (unknown hosts are assumed alive)."""
    if not owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    if int(pid) == os.getpid():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True, slots=True)
class Job:
    """A backfill job as stored (``strangler jobs`` lists them)."""

    id: int
    mapping: str
    kind: str
    state: str
    cursor: Key | None
    end_key: Key | None
    since_column: str | None
    since: Any
    watermark: Any
    total: int
    copied: int
    written: int
    skipped: int
    failed: int
    batch_size: int
    rate: float | None
    workers: int
    owner: str
    error: str
    heartbeat: datetime
    started_at: datetime
    finished_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "mapping": self.mapping,
            "kind": self.kind,
            "state": self.state,
            "cursor": encode_key(self.cursor),
            "end_key": encode_key(self.end_key),
            "since_column": self.since_column,
            "total": self.total,
            "copied": self.copied,
            "written": self.written,
            "skipped": self.skipped,
            "failed": self.failed,
            "batch_size": self.batch_size,
            "rate": self.rate,
            "workers": self.workers,
            "owner": self.owner,
            "error": self.error,
            "heartbeat": self.heartbeat.isoformat(),
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


@dataclass(frozen=True, slots=True)
class Chunk:
    """A key range ``(lo, hi]`` of a job, with the cursor reached inside it."""

    id: int
    job_id: int
    seq: int
    lo: Key | None
    hi: Key | None
    cursor: Key | None


@dataclass(frozen=True, slots=True)
class VerificationRecord:
    """A stored verdict."""

    id: int
    mapping: str
    at: datetime
    clean: bool
    missing: int
    extra: int
    different: int
    details: dict[str, Any]


def _job(r: BackfillJobRow) -> Job:
    return Job(
        r.id, r.mapping, r.kind, r.state, decode_key(r.cursor), decode_key(r.end_key),
        r.since_column, decode_value(r.since), decode_value(r.watermark), r.total, r.copied, r.written,
        r.skipped, r.failed, r.batch_size, r.rate, r.workers, r.owner, r.error, r.heartbeat,
        r.started_at, r.finished_at,
    )  # fmt: skip


def _chunk(r: BackfillChunkRow) -> Chunk:
    return Chunk(r.id, r.job_id, r.seq, decode_key(r.lo), decode_key(r.hi), decode_key(r.cursor))


class JobLog:
    """Jobs, chunks and verdicts of the data-migration kit in ``store``."""

    def __init__(self, store: Store, *, stale_after: float = 60.0) -> None:
        self.store = store
        self.stale_after = stale_after

    def active(self, mapping: str) -> Job | None:
        """The newest unfinished job of ``mapping`` (running, or killed while running)."""
        q = select(BackfillJobRow).where(
            BackfillJobRow.mapping == mapping, BackfillJobRow.state.in_(("running", "failed"))
        )
        with self.store.session() as s:
            row = s.scalars(q.order_by(BackfillJobRow.id.desc()).limit(1)).first()
            return _job(row) if row else None

    def last_watermark(self, mapping: str, column: str) -> Any:
        """The watermark of the newest finished job of ``mapping`` over ``column``."""

        q = select(BackfillJobRow.watermark).where(
            BackfillJobRow.mapping == mapping,
            BackfillJobRow.state == "done",
            BackfillJobRow.since_column == column,
            BackfillJobRow.watermark.is_not(None),
        )
        with self.store.session() as s:
            value = s.scalars(q.order_by(BackfillJobRow.id.desc()).limit(1)).first()
            return decode_value(value)

    def create(
        self, *, mapping: str, kind: str, ranges: list[tuple[Key | None, Key | None]], **fields: Any
    ) -> Job:
        """A new running job with one chunk per range."""

        for name in ("since", "watermark"):
            fields[name] = encode_value(fields.get(name))
        fields["end_key"] = encode_key(fields.get("end_key"))
        with self.store.session() as s:
            row = BackfillJobRow(
                mapping=mapping, kind=kind, state="running", owner=worker_id(), **fields
            )
            row.heartbeat = row.started_at = utcnow()
            s.add(row)
            s.flush()
            for seq, (lo, hi) in enumerate(ranges):
                s.add(
                    BackfillChunkRow(
                        job_id=row.id, seq=seq, lo=encode_key(lo), hi=encode_key(hi),
                        state="pending", copied=0,
                    )
                )  # fmt: skip
            return _job(row)

    def resume(self, job_id: int, *, batch_size: int | None, rate: float | None) -> Job:
        """Take over a job: this process becomes its owner; new batch size / rate if given."""
        values: dict[str, Any] = {"owner": worker_id(), "state": "running", "error": ""}
        if batch_size is not None:
            values["batch_size"] = batch_size
        if rate is not None:
            values["rate"] = rate or None
        with self.store.session() as s:
            s.execute(update(BackfillJobRow).where(BackfillJobRow.id == job_id).values(**values))
            # Chunks this process held when a run of it stopped are free again.
            s.execute(
                update(BackfillChunkRow)
                .where(
                    BackfillChunkRow.job_id == job_id,
                    BackfillChunkRow.state == "claimed",
                    BackfillChunkRow.claimed_by == values["owner"],
                )
                .values(state="pending", claimed_by=None)
            )
            return _job(s.get_one(BackfillJobRow, job_id))

    def claim(self, job_id: int) -> Chunk | None:
        """Claim the next chunk nobody is working on (``FOR UPDATE SKIP LOCKED``)."""
        me = worker_id()
        stale = utcnow() - timedelta(seconds=self.stale_after)
        q = (
            select(BackfillChunkRow)
            .where(BackfillChunkRow.job_id == job_id, BackfillChunkRow.state != "done")
            .order_by(BackfillChunkRow.seq)
            .with_for_update(skip_locked=True)
        )
        with self.store.session() as s:
            for row in s.scalars(q).all():
                free = row.state == "pending" or (
                    row.claimed_by != me
                    and (not _alive(row.claimed_by) or (row.heartbeat or stale) < stale)
                )
                if not free:
                    continue
                # Conditional update: on engines without SKIP LOCKED two claimers cannot both win.
                won = s.execute(
                    update(BackfillChunkRow)
                    .where(
                        BackfillChunkRow.id == row.id,
                        BackfillChunkRow.state == row.state,
                        (BackfillChunkRow.claimed_by == row.claimed_by)
                        if row.claimed_by
                        else BackfillChunkRow.claimed_by.is_(None),
                    )
                    .values(state="claimed", claimed_by=me, claimed_at=utcnow(), heartbeat=utcnow())
                    .execution_options(synchronize_session=False)
                )
                if getattr(won, "rowcount", 0) == 1:
                    return _chunk(row)
        return None

    def checkpoint(
        self, job: Job, chunk: Chunk, cursor: Key, *, copied: int, written: int, skipped: int
    ) -> float | None:
        """Record progress after a batch; returns the job's current rate (live throttle)."""
        now = utcnow()
        enc = encode_key(cursor)
        with self.store.session() as s:
            s.execute(
                update(BackfillChunkRow)
                .where(BackfillChunkRow.id == chunk.id)
                .values(cursor=enc, copied=BackfillChunkRow.copied + copied, heartbeat=now)
            )
            values: dict[str, Any] = {
                "copied": BackfillJobRow.copied + copied,
                "written": BackfillJobRow.written + written,
                "skipped": BackfillJobRow.skipped + skipped,
                "heartbeat": now,
            }
            if job.workers == 1:
                values["cursor"] = enc
            s.execute(update(BackfillJobRow).where(BackfillJobRow.id == job.id).values(**values))
            rate = s.scalar(select(BackfillJobRow.rate).where(BackfillJobRow.id == job.id))
            return float(rate) if rate else None

    def finish_chunk(self, chunk: Chunk) -> None:
        with self.store.session() as s:
            s.execute(
                update(BackfillChunkRow)
                .where(BackfillChunkRow.id == chunk.id)
                .values(state="done", heartbeat=utcnow())
            )

    def finish(self, job_id: int) -> Job:
        """Mark the job done when every chunk is; returns it either way."""
        with self.store.session() as s:
            left = s.scalar(
                select(BackfillChunkRow.id)
                .where(BackfillChunkRow.job_id == job_id, BackfillChunkRow.state != "done")
                .limit(1)
            )
            row = s.get_one(BackfillJobRow, job_id)
            if left is None and row.state != "done":
                row.state = "done"
                row.finished_at = row.heartbeat = utcnow()
            return _job(row)

    def fail(self, job_id: int, error: str) -> None:
        with self.store.session() as s:
            s.execute(
                update(BackfillJobRow)
                .where(BackfillJobRow.id == job_id)
                .values(state="failed", error=error[:2000], failed=BackfillJobRow.failed + 1)
            )

    def set_rate(self, mapping: str, rate: float | None) -> Job | None:
        """Change the throttle of the running job of ``mapping`` (it applies at the next batch)."""
        job = self.active(mapping)
        if job is None:
            return None
        with self.store.session() as s:
            s.execute(update(BackfillJobRow).where(BackfillJobRow.id == job.id).values(rate=rate))
        return self.get(job.id)

    def get(self, job_id: int) -> Job:
        with self.store.session() as s:
            return _job(s.get_one(BackfillJobRow, job_id))

    def jobs(self, mapping: str | None = None, limit: int = 50) -> list[Job]:
        """Jobs, newest first."""
        q = select(BackfillJobRow).order_by(BackfillJobRow.id.desc()).limit(limit)
        if mapping is not None:
            q = q.where(BackfillJobRow.mapping == mapping)
        with self.store.session() as s:
            return [_job(r) for r in s.scalars(q).all()]

    # -- verdicts ---------------------------------------------------------------------

    def record_verification(self, **fields: Any) -> VerificationRecord:
        with self.store.session() as s:
            row = VerificationRow(at=utcnow(), **fields)
            s.add(row)
            s.flush()
            return _verification(row)

    def latest_verification(self, mapping: str) -> VerificationRecord | None:
        q = select(VerificationRow).where(VerificationRow.mapping == mapping)
        with self.store.session() as s:
            row = s.scalars(q.order_by(VerificationRow.id.desc()).limit(1)).first()
            return _verification(row) if row else None


def _verification(r: VerificationRow) -> VerificationRecord:
    return VerificationRecord(
        r.id, r.mapping, r.at, bool(r.clean), r.missing, r.extra, r.different, dict(r.details)
    )
