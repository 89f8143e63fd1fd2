"""Backfill and verify throughput on 1M-row tables, against a raw ``INSERT ... SELECT``.

Cases, on one database (SQLite always; PostgreSQL when STRANGLER_TEST_POSTGRES_URL is set):

- ``insert_select``: ``INSERT INTO copy SELECT * FROM src`` in one statement (the ceiling);
- ``backfill_identity``: ``migrations.backfill`` of the same rows, identity transform
  (target: at least half the rows/s of ``insert_select``);
- ``backfill_transform``: cents-as-text to Decimal, local text dates to UTC;
- ``backfill_sql``: the same copy declared as SQL expressions (``columns=``): within one
  database each batch runs as ``INSERT ... SELECT ... ON CONFLICT``;
- ``verify_identical``: ``migrations.verify`` of the identity copy, a Python transform: rows
  compared in Python;
- ``verify_sql``: verify of the ``columns=`` copy (target 1M rows/s): key-range checksums
  computed by the database (PostgreSQL), ``EXCEPT`` both ways (SQLite, one database);
- ``verify_sql_two_databases``: the same tables in two databases (two SQLite files; legacy
  MariaDB and new PostgreSQL when STRANGLER_TEST_MARIADB_URL is set too): checksums on each side.

Prints one line per case and a JSON line with every figure at the end::

    python -m bench.bench_backfill --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from collections.abc import Mapping as RowMapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    create_engine,
    insert,
    text,
)
from sqlalchemy.types import DateTime

from migrations import Databases, Mapping, backfill, verify
from strangler.store import Store

meta = MetaData()


def _legacy_shaped(name: str) -> Table:
    """A table with the legacy source's columns (the source and its raw copies)."""
    return Table(
        name,
        meta,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("name", String(60)),
        Column("amount_cents", String(12)),
        Column("created", String(19)),
    )


SRC = _legacy_shaped("bench_src")
COPY = _legacy_shaped("bench_copy")
IDENT = _legacy_shaped("bench_ident")
NEW = Table(
    "bench_new",
    meta,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(60)),
    Column("amount", Numeric(12, 2)),
    Column("created_at", DateTime(timezone=True)),
)

COPY2 = _legacy_shaped("bench_copy2")

SQLCOPY = _legacy_shaped("bench_sqlcopy")


def identity(row: RowMapping[str, Any]) -> tuple[dict[str, Any], ...]:
    return (dict(row),)


def transform(row: RowMapping[str, Any]) -> Iterator[dict[str, Any]]:
    yield {
        "id": row["id"],
        "name": row["name"],
        "amount": Decimal(int(row["amount_cents"])) / 100,
        "created_at": datetime.fromisoformat(row["created"]).replace(tzinfo=UTC),
    }


def _fill(engine: Engine, rows: int) -> None:
    meta.drop_all(engine)
    meta.create_all(engine)
    step = 50_000
    with engine.begin() as conn:
        for lo in range(1, rows + 1, step):
            conn.execute(
                insert(SRC),
                [
                    {
                        "id": i,
                        "name": f"customer {i % 9973}",
                        "amount_cents": str((i * 7919) % 10_000_000),
                        "created": f"2024-{i % 12 + 1:02d}-{i % 28 + 1:02d} 12:{i % 60:02d}:00",
                    }
                    for i in range(lo, min(rows + 1, lo + step))
                ],
            )


def _timed(label: str, rows: int, fn: Any, figures: dict[str, float]) -> None:
    """Wall-clock rows/s, and rows per CPU-second of this process (steadier on a busy host)."""
    started, cpu = time.perf_counter(), time.process_time()
    fn()
    seconds = time.perf_counter() - started
    cpu_seconds = max(time.process_time() - cpu, 1e-9)
    figures[label] = round(rows / seconds)
    figures[f"{label}_per_cpu_s"] = round(rows / cpu_seconds)
    print(
        f"{label:22} {rows:>9} rows {seconds:7.2f} s {rows / seconds:>12,.0f} rows/s"
        f"   (this process: {cpu_seconds:6.2f} CPU s)"
    )


def run(url: str, rows: int, store_url: str) -> dict[str, float]:
    engine = create_engine(url)
    dbs = Databases(engine, engine)
    store = Store(store_url)
    store.ensure_schema()
    figures: dict[str, float] = {}
    print(f"-- {engine.dialect.name}: filling {rows} rows")
    _fill(engine, rows)
    suffix = uuid.uuid4().hex[:6]
    ident = Mapping(f"bench_ident_{suffix}", SRC, "id", identity, IDENT)
    mapped = Mapping(f"bench_new_{suffix}", SRC, "id", transform, NEW)
    in_sql = Mapping(
        f"bench_sql_{suffix}", SRC, "id", None, SQLCOPY, columns={c.name: c for c in SRC.c}
    )

    def insert_select() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO bench_copy SELECT * FROM bench_src"))

    _timed("insert_select", rows, insert_select, figures)
    _timed("backfill_identity", rows, lambda: backfill(ident, dbs, store), figures)
    _timed("backfill_transform", rows, lambda: backfill(mapped, dbs, store), figures)

    def copy_sql() -> None:
        job = backfill(in_sql, dbs, store)
        assert (job.copied, job.written) == (rows, rows)

    _timed("backfill_sql", rows, copy_sql, figures)

    def insert_select_again() -> None:
        # The ceiling again, now that the database holds the other copies too (the cases
        # above write 4M rows; PostgreSQL's WAL and checkpoints then slow every insert).
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO bench_copy2 SELECT * FROM bench_src"))

    _timed("insert_select_after", rows, insert_select_again, figures)

    def check() -> None:
        assert verify(ident, dbs, chunk=50_000).clean

    _timed("verify_identical", rows, check, figures)

    def check_sql() -> None:
        result = verify(in_sql, dbs, chunk=100_000)
        assert result.clean
        figures["verify_sql_method"] = result.details.get("checksums", "except")

    _timed("verify_sql", rows, check_sql, figures)
    for case in ("backfill_identity", "backfill_transform", "backfill_sql"):
        figures[f"{case}_vs_insert_select"] = round(figures[case] / figures["insert_select"], 3)
    figures["backfill_sql_vs_insert_select_after"] = round(
        figures["backfill_sql"] / figures["insert_select_after"], 3
    )
    meta.drop_all(engine)
    engine.dispose()
    store.close()
    return figures


def _fill_copy(engine: Engine, rows: int) -> None:
    _fill(engine, rows)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO bench_sqlcopy SELECT * FROM bench_src"))


def run_two(legacy_url: str, new_url: str, rows: int) -> dict[str, float]:
    """Verify of a ``columns=`` mapping whose legacy and new tables are in two databases."""
    legacy, new = create_engine(legacy_url), create_engine(new_url)
    print(f"-- {legacy.dialect.name} -> {new.dialect.name}: filling {rows} rows on each side")
    _fill(legacy, rows)
    _fill_copy(new, rows)
    in_sql = Mapping("bench_two", SRC, "id", None, SQLCOPY, columns={c.name: c for c in SRC.c})
    figures: dict[str, float] = {}

    def check() -> None:
        result = verify(in_sql, Databases(legacy, new), chunk=100_000)
        assert result.clean
        assert result.details["checksums"]

    _timed("verify_sql_two_databases", rows, check, figures)
    meta.drop_all(legacy)
    meta.drop_all(new)
    legacy.dispose()
    new.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    result: dict[str, Any] = {"rows": args.rows}
    with tempfile.TemporaryDirectory() as tmp:
        store = f"sqlite:///{Path(tmp) / 'store.db'}"
        lite = f"sqlite:///{Path(tmp) / 'bench.db'}"
        result["sqlite"] = run(lite, args.rows, store)
        other = f"sqlite:///{Path(tmp) / 'other.db'}"
        result["sqlite"].update(run_two(lite, other, args.rows))
        pg = os.environ.get("STRANGLER_TEST_POSTGRES_URL")
        maria = os.environ.get("STRANGLER_TEST_MARIADB_URL")
        if pg:
            result["postgresql"] = run(pg, args.rows, store)
        if pg and maria:
            result["mariadb_to_postgresql"] = run_two(maria, pg, args.rows)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
