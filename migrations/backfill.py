"""Copy a mapping's legacy rows into the new table: resumable, idempotent, throttled.

    >>> job = backfill(mapping, dbs, store)                   # doctest: +SKIP
    >>> job.state, job.copied
    ('done', 120000)

- The end point (the largest legacy key) is fixed when the job starts: rows inserted later
  are left to a catch-up, so a backfill always finishes.
- Each batch reads the next keys after the cursor, transforms them, upserts them into the
  target in one short transaction, then checkpoints the cursor in the store. A crash between
  the two commits redoes one batch, which the upsert makes harmless.
- The cursor is the last key done, never an offset: a new ``batch`` on resume skips nothing.
- Without ``batch`` the batch size adapts toward ``TARGET_SECONDS`` per batch.
- ``since_column``: the first run records a watermark (the column's largest value when it
  starts); each later run copies the rows whose value is at least the previous watermark.
- ``workers > 1`` splits the range into chunks that workers (threads here, or other processes
  running the same command) claim from the store with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    func,
    insert,
    inspect,
    literal,
    select,
)
from sqlalchemy.exc import IntegrityError

from strangler import MigrationError, StranglerError
from strangler.store import Store

from .keys import Key, in_range
from .mapping import Databases, Mapping, brief_error
from .records import Chunk, Job, JobLog
from .upsert import upsert_rows, upsert_statement

__all__ = [
    "MAX_BATCH",
    "MIN_BATCH",
    "TARGET_SECONDS",
    "DryRun",
    "Progress",
    "backfill",
    "dry_run",
    "next_batch_size",
    "throttle_pause",
]

TARGET_SECONDS = 0.5
MIN_BATCH = 10
MAX_BATCH = 50_000
MAX_BATCH_IN_DATABASE = 2_000_000
FIRST_BATCH_IN_DATABASE = 50_000
DEFAULT_BATCH = 1_000


def next_batch_size(
    size: int, seconds: float, target: float = TARGET_SECONDS, ceiling: int = MAX_BATCH
) -> int:
    """The next batch size so a batch takes about ``target`` seconds (at most x2 / ÷2 a step).

    >>> next_batch_size(1000, 0.1)
    2000
    >>> next_batch_size(1000, 1.0)
    500
    """
    if seconds <= 0:
        return min(ceiling, size * 2)
    want = size * target / seconds
    return int(max(MIN_BATCH, min(ceiling, size * 2, max(size / 2, want))))


def throttle_pause(rows: int, seconds: float, rate: float | None) -> float:
    """Seconds to sleep so ``rows`` done in ``seconds`` stay under ``rate`` rows/s.

    >>> throttle_pause(500, 0.25, 1000)
    0.25
    """
    if not rate or rate <= 0:
        return 0.0
    return max(0.0, rows / rate - seconds)


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a running backfill is (given to ``on_progress`` after each batch)."""

    job_id: int
    copied: int
    total: int
    batch_size: int


@dataclass(frozen=True, slots=True)
class DryRun:
    """What a backfill would write: ``sample`` holds (legacy key, new rows) of the first rows."""

    legacy_rows: int
    new_rows: int
    skipped: int
    sample: tuple[tuple[Key, tuple[dict[str, Any], ...]], ...]


def _source_filter(
    mapping: Mapping, since_column: str | None, since: Any
) -> list[ColumnElement[bool]]:
    if since_column is None or since is None:
        return []
    return [mapping.source_from.c[since_column] >= since]


def _read(
    mapping: Mapping,
    dbs: Databases,
    lo: Key | None,
    hi: Key | None,
    limit: int,
    extra: list[ColumnElement[bool]],
) -> list[Any]:
    cols = mapping.key_columns()
    q = (
        select(*mapping.selected())
        .where(in_range(cols, lo, hi, dbs.legacy.dialect.name), *extra)
        .order_by(*cols)
        .limit(limit)
    )
    with dbs.legacy.connect() as conn:
        return mapping.read(conn, q)


def check_target(mapping: Mapping, dbs: Databases) -> None:
    """Refuse a target table (or its columns) that the new database does not have yet."""
    table = mapping.target
    found = inspect(dbs.new)
    if not found.has_table(table.name, schema=table.schema):
        raise MigrationError(
            mapping.name,
            f"target table {table.name!r} does not exist in the new database: run the "
            "Alembic migration that creates it (alembic upgrade head) before the backfill",
        )
    have = {c["name"] for c in found.get_columns(table.name, schema=table.schema)}
    missing = [c.name for c in table.columns if c.name not in have]
    if missing:
        raise MigrationError(
            mapping.name,
            f"target table {table.name!r} has no column {missing[0]!r} in the new database "
            f"(missing: {', '.join(missing)}): run the Alembic migration that adds it",
        )


def dry_run(mapping: Mapping, dbs: Databases, *, batch: int = 100, batches: int = 3) -> DryRun:
    """Transform the first ``batches`` batches and return what would be written (no writes).

    The target table is checked first: a dry run that passes means the backfill can write.
    """
    check_target(mapping, dbs)
    legacy = new = skipped = 0
    sample: list[tuple[Key, tuple[dict[str, Any], ...]]] = []
    cursor: Key | None = None
    for _ in range(batches):
        rows = _read(mapping, dbs, cursor, None, batch, [])
        for row in rows:
            out = mapping.run_transform(row)
            legacy += 1
            new += len(out)
            skipped += not out
            if len(sample) < 20:
                sample.append((tuple(row[k] for k in mapping.keys), tuple(out)))
        if len(rows) < batch:
            break
        cursor = tuple(rows[-1][k] for k in mapping.keys)
    return DryRun(legacy, new, skipped, tuple(sample))


def _split(mapping: Mapping, dbs: Databases, end: Key, total: int, n: int) -> list[Key]:
    """``n - 1`` keys cutting ``(.., end]`` into parts of about equal row counts."""
    cols = mapping.key_columns()
    cuts: list[Key] = []
    with dbs.legacy.connect() as conn:
        for i in range(1, n):
            q = (
                select(*cols)
                .select_from(mapping.source_from)
                .where(in_range(cols, None, end, dbs.legacy.dialect.name))
                .order_by(*cols)
                .offset(total * i // n - 1)
                .limit(1)
            )
            row = conn.execute(q).first()
            if row is not None and (not cuts or tuple(row) > cuts[-1]) and tuple(row) < end:
                cuts.append(tuple(row))
    return cuts


def _start(
    mapping: Mapping,
    dbs: Databases,
    log: JobLog,
    *,
    batch: int | None,
    rate: float | None,
    workers: int,
    since_column: str | None,
) -> Job:
    src = mapping.source_from
    cols = mapping.key_columns()
    column = since_column or mapping.updated_at
    if column is not None and column not in src.c:
        raise MigrationError(mapping.name, f"legacy source has no column {column!r} to catch up by")
    since = log.last_watermark(mapping.name, since_column) if since_column else None
    kind = "catchup" if since is not None else "full"
    extra = _source_filter(mapping, column, since)
    with dbs.legacy.connect() as conn:
        # The watermark is read before any row, so rows changed during the copy are >= it.
        watermark = conn.scalar(select(func.max(src.c[column]))) if column else None
        last = conn.execute(select(*cols).order_by(*(c.desc() for c in cols)).limit(1)).first()
        end: Key | None = tuple(last) if last is not None else None
        total = int(conn.scalar(select(func.count()).select_from(src).where(*extra)) or 0)
    ranges: list[tuple[Key | None, Key | None]] = [(None, end)]
    if workers > 1 and end is not None and total > workers:
        bounds: list[Key | None] = [None, *_split(mapping, dbs, end, total, workers * 4), end]
        ranges = list(itertools.pairwise(bounds))
    return log.create(
        mapping=mapping.name,
        kind=kind,
        ranges=ranges if end is not None else [],
        end_key=end,
        since_column=column,
        since=since,
        watermark=watermark if watermark is not None else since,
        total=total,
        batch_size=batch or DEFAULT_BATCH,
        rate=rate or None,
        workers=workers,
    )


class _Run:
    """One process's part in a job: worker threads claiming chunks until none is left."""

    def __init__(
        self,
        mapping: Mapping,
        dbs: Databases,
        log: JobLog,
        job: Job,
        *,
        adaptive: bool,
        threads: int,
        on_progress: Callable[[Progress], None] | None,
    ) -> None:
        self.mapping, self.dbs, self.log, self.job = mapping, dbs, log, job
        self.adaptive = adaptive
        self.threads = threads
        self.on_progress = on_progress
        self.lock = threading.Lock()
        self.copied = job.copied
        self.rate = job.rate
        self.errors: list[BaseException] = []
        self.extra = _source_filter(mapping, job.since_column, job.since)
        # SQL-mapped and legacy and new are one database: the database copies the rows.
        self.in_database = mapping.in_sql and dbs.one_database
        # Empty ranges get a plain INSERT where the target key is its primary key (so the
        # probe is an index lookup) and savepoints are dependable (not pysqlite).
        key = mapping.key_columns()
        self.integer_key = len(key) == 1 and isinstance(key[0].type, Integer)
        self.plain_first = (
            mapping.target_keys == mapping.target_pk and dbs.new.dialect.name != "sqlite"
        )

    def work(self) -> None:
        try:
            while not self.errors and (chunk := self.log.claim(self.job.id)) is not None:
                self.copy(chunk)
                self.log.finish_chunk(chunk)
        except BaseException as exc:
            with self.lock:
                self.errors.append(exc)

    def pause(self, rows: int, started: float, rate: float | None, share: int) -> None:
        """Sleep off the throttle in short naps, re-reading the rate so a change applies now."""
        while (
            pause := throttle_pause(
                rows, time.monotonic() - started, rate / share if rate else None
            )
        ) > 0:
            time.sleep(min(pause, 0.25))
            rate = self.log.get(self.job.id).rate

    def insert_select(
        self, conn: Connection, names: list[str], query: Any, lo: Key | None, hi: Key | None
    ) -> int | None:
        """One batch copied by the database, idempotently.

        Into a key range of the target that holds no row yet (one index probe), a plain
        ``INSERT ... SELECT`` (PostgreSQL, MariaDB): it skips the conflict check the upsert
        makes per row. A row written meanwhile by someone else makes it fail on the primary
        key; the batch is then rolled back to its savepoint and written by the upsert, as
        is any batch into a range that already has rows (a rerun after a crash).

        Returns the rows copied, or None where the driver's count is not that (MariaDB counts
        an updated row twice).
        """
        m = self.mapping
        dialect = conn.dialect.name
        upsert = upsert_statement(m.target, dialect, (names, query))
        exact = dialect not in ("mysql", "mariadb")
        if not self.plain_first:
            n = conn.execute(upsert).rowcount
            return n if exact and n >= 0 else None
        probe = (
            select(literal(1))
            .select_from(m.target)
            .where(in_range(m.target_key_columns(), lo, hi, dialect))
            .limit(1)
        )
        if conn.scalar(probe) is None:
            try:
                with conn.begin_nested():
                    n = conn.execute(insert(m.target).from_select(names, query)).rowcount
                return n if n >= 0 else None
            except IntegrityError:
                pass  # a row arrived in the range meanwhile: the upsert below
        n = conn.execute(upsert).rowcount
        return n if exact and n >= 0 else None

    def next_cut(
        self, conn: Connection, cursor: Key | None, chunk: Chunk, size: int
    ) -> tuple[Key | None, Key | None, int | None, bool]:
        """The next batch after ``cursor``: ``(lo, hi, rows or None, last)``.

        An integer key advances by ``size`` key values (no query; the insert counts the rows);
        other keys by ``size`` rows (an index scan to the ``size``-th key).
        """
        cols = self.mapping.key_columns()
        dialect = conn.dialect.name
        rest = in_range(cols, cursor, chunk.hi, dialect)
        if self.integer_key and chunk.hi is not None:
            if cursor is None:
                first = conn.scalar(select(func.min(cols[0])).where(rest, *self.extra))
                if first is None:
                    return None, None, 0, True
                cursor = (int(first) - 1,)
            hi = (min(int(cursor[0]) + size, int(chunk.hi[0])),)
            return cursor, hi, None, hi == chunk.hi
        cut = conn.execute(
            select(*cols).where(rest, *self.extra).order_by(*cols).offset(size - 1).limit(1)
        ).first()
        if cut is not None:
            return cursor, tuple(cut), size, False
        src = self.mapping.source_from
        count = int(
            conn.scalar(select(func.count()).select_from(src).where(rest, *self.extra)) or 0
        )
        return cursor, chunk.hi, count, True

    def copy_in_database(self, chunk: Chunk) -> None:
        """A ``columns=`` mapping within one database: each batch is one ``INSERT ... SELECT``."""
        m = self.mapping
        cols = m.key_columns()
        names = list(m.columns or {})
        dialect = self.dbs.new.dialect.name
        size = self.job.batch_size
        if self.adaptive:
            # A batch that never crosses Python takes ~1 ms per 1,000 rows: start big rather
            # than spend a dozen commits (each with its checkpoint) doubling up from 1,000.
            size = max(size, FIRST_BATCH_IN_DATABASE)
        cursor = chunk.cursor if chunk.cursor is not None else chunk.lo
        while not self.errors:
            started = time.monotonic()
            with self.dbs.new.begin() as conn:
                cursor, hi, count, last = self.next_cut(conn, cursor, chunk, size)
                if count == 0 and last:
                    return
                query = select(*((m.columns or {})[n].label(n) for n in names)).where(
                    in_range(cols, cursor, hi, dialect), *self.extra
                )
                done = self.insert_select(conn, names, query, cursor, hi)
                if count is None:
                    count = done if done is not None else self.count_range(conn, cursor, hi)
            cursor = hi if hi is not None else cursor
            assert cursor is not None
            rate = self.log.checkpoint(
                self.job, chunk, cursor, copied=count, written=count, skipped=0
            )
            with self.lock:
                self.copied += count
                copied = self.copied
            if self.on_progress is not None:
                self.on_progress(Progress(self.job.id, copied, self.job.total, size))
            if last:
                return
            elapsed = time.monotonic() - started
            self.pause(count, started, rate, max(1, self.threads))
            if self.adaptive:
                # No row crosses Python here: the 0.5 s target alone bounds the transaction.
                size = next_batch_size(size, elapsed, ceiling=MAX_BATCH_IN_DATABASE)

    def count_range(self, conn: Connection, lo: Key | None, hi: Key | None) -> int:
        """Legacy rows in ``(lo, hi]`` (after the catch-up filter)."""
        m = self.mapping
        where = in_range(m.key_columns(), lo, hi, conn.dialect.name)
        return int(
            conn.scalar(select(func.count()).select_from(m.source_from).where(where, *self.extra))
            or 0
        )

    def copy(self, chunk: Chunk) -> None:
        if self.in_database:
            self.copy_in_database(chunk)
            return
        size = self.job.batch_size
        cursor = chunk.cursor if chunk.cursor is not None else chunk.lo
        share = max(1, self.threads)
        while not self.errors:
            started = time.monotonic()
            rows = _read(self.mapping, self.dbs, cursor, chunk.hi, size, self.extra)
            if not rows:
                return
            out: list[dict[str, Any]] = []
            skipped = 0
            for row in rows:
                produced = self.mapping.run_transform(row)
                skipped += not produced
                out.extend(produced)
            with self.dbs.new.begin() as conn:
                upsert_rows(conn, self.mapping.target, out)
            cursor = tuple(rows[-1][k] for k in self.mapping.keys)
            rate = self.log.checkpoint(
                self.job, chunk, cursor, copied=len(rows), written=len(out), skipped=skipped
            )
            with self.lock:
                self.copied += len(rows)
                self.rate = rate
                copied = self.copied
            if self.on_progress is not None:
                self.on_progress(Progress(self.job.id, copied, self.job.total, size))
            elapsed = time.monotonic() - started
            if len(rows) < size:
                return
            self.pause(len(rows), started, rate, share)
            if self.adaptive:
                size = next_batch_size(size, elapsed)


def backfill(
    mapping: Mapping,
    dbs: Databases,
    store: Store,
    *,
    batch: int | None = None,
    rate: float | None = None,
    workers: int = 1,
    since_column: str | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    on_start: Callable[[Job, bool], None] | None = None,
) -> Job:
    """Run (or resume) the backfill of ``mapping`` to its end; returns the job as stored.

    ``batch``: a fixed batch size (default: adaptive). ``rate``: at most this many legacy
    rows per second (0 lifts a stored throttle). ``on_start(job, resumed)`` is called once.
    """
    if workers < 1:
        raise MigrationError(mapping.name, f"--workers must be at least 1, got {workers}")
    if batch is not None and batch < 1:
        raise MigrationError(mapping.name, f"--batch must be at least 1, got {batch}")
    check_target(mapping, dbs)
    log = JobLog(store)
    job = log.active(mapping.name)
    resumed = job is not None
    if job is not None:
        job = log.resume(job.id, batch_size=batch, rate=rate)
    else:
        job = _start(
            mapping, dbs, log, batch=batch, rate=rate, workers=workers, since_column=since_column
        )
    if on_start is not None:
        on_start(job, resumed)
    run = _Run(
        mapping, dbs, log, job, adaptive=batch is None, threads=workers, on_progress=on_progress
    )
    threads = [threading.Thread(target=run.work, daemon=True) for _ in range(workers - 1)]
    for t in threads:
        t.start()
    run.work()
    for t in threads:
        t.join()
    if run.errors:
        exc = run.errors[0]
        log.fail(job.id, brief_error(exc))
        if isinstance(exc, StranglerError) or not isinstance(exc, Exception):
            raise exc  # our own errors, and ^C, as they are
        raise MigrationError(mapping.name, f"backfill stopped: {brief_error(exc)}") from exc
    return log.finish(job.id)
