"""The same kit on real PostgreSQL and MariaDB: cross-engine copies, upserts, parallel workers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, select, update
from sqlalchemy.orm import Session

from migrations import JobLog, backfill, upsert_rows, verify
from strangler.store.job_models import BackfillChunkRow
from tests.migrations import shop
from tests.migrations.conftest import Shop


@pytest.mark.postgres
@pytest.mark.mariadb
def test_legacy_mariadb_to_new_postgresql(
    make_shop: Callable[..., Shop], mariadb_url: str, postgres_url: str
) -> None:
    s = make_shop(mariadb_url, postgres_url, postgres_url)
    s.add_orders(range(1, 1501))
    s.add_lines(orders=50, lines=5)
    job = backfill(s.mapping(), s.dbs, s.store, batch=200)
    lines = backfill(s.mapping("lines"), s.dbs, s.store, batch=33)
    assert (job.state, lines.state) == ("done", "done")
    assert s.count("orders") == 1470
    with s.new.connect() as conn:
        at = conn.execute(select(shop.orders.c.ordered_at).where(shop.orders.c.id == 7)).scalar()
    assert at is not None
    assert at.utcoffset() is not None  # timestamptz, in UTC
    assert at.isoformat() == "2024-08-08T05:07:00+00:00"
    assert verify(s.mapping(), s.dbs, s.store).clean
    assert verify(s.mapping("lines"), s.dbs, s.store, chunk=17).clean
    # A second full run upserts over the same rows: nothing duplicated, nothing lost.
    with s.legacy.begin() as conn:
        conn.execute(update(shop.ORDERS).where(shop.ORDERS.c.ORD_ID == 3).values(CUST_NM="Zoe"))
    again = backfill(s.mapping(), s.dbs, s.store, batch=999)
    assert again.copied == 1500
    assert s.count("orders") == 1470
    assert verify(s.mapping(), s.dbs, s.store).clean


@pytest.mark.mariadb
def test_sqlite_to_mariadb_composite_keys_and_repair(
    make_shop: Callable[..., Shop], tmp_path: Path, mariadb_url: str
) -> None:
    s = make_shop(f"sqlite:///{tmp_path / 'legacy.db'}", mariadb_url)
    s.add_lines(orders=60, lines=6)
    mapping = s.mapping("lines")
    backfill(mapping, s.dbs, s.store, batch=11)
    backfill(mapping, s.dbs, s.store, batch=50)  # ON DUPLICATE KEY UPDATE: same rows again
    with s.new.begin() as conn:
        conn.execute(
            update(shop.order_lines)
            .where(shop.order_lines.c.order_id == 31, shop.order_lines.c.line_no == 2)
            .values(unit_price=0)
        )
    found = verify(mapping, s.dbs, s.store, chunk=25, recheck_delay=0, repair=True)
    assert [d.key for d in found.different] == [(31, 2)]
    assert found.clean
    assert verify(mapping, s.dbs, chunk=25).clean


@pytest.mark.postgres
def test_parallel_workers_claim_chunks_with_skip_locked(
    make_shop: Callable[..., Shop], postgres_url: str
) -> None:
    s = make_shop(postgres_url, postgres_url, postgres_url)
    s.add_orders(range(1, 3001))
    log = JobLog(s.store)
    job = backfill(s.mapping(), s.dbs, s.store, workers=3, batch=100)
    assert job.state == "done"
    assert job.copied == 3000
    with Session(s.store.engine) as session:
        chunks = session.scalars(
            select(BackfillChunkRow).where(BackfillChunkRow.job_id == job.id)
        ).all()
        assert len(chunks) == 12
        assert {c.state for c in chunks} == {"done"}
        assert sum(c.copied for c in chunks) == 3000
    assert verify(s.mapping(), s.dbs, s.store).clean

    # A chunk locked by another worker's transaction is skipped, not waited for.
    s.add_orders(range(3001, 3601))
    job2 = log.create(
        mapping="orders", kind="full", ranges=[(None, (3300,)), ((3300,), (3600,))],
        end_key=(3600,), total=600, batch_size=100, workers=2,
    )  # fmt: skip
    with Session(s.store.engine) as other:
        locked = other.scalars(
            select(BackfillChunkRow)
            .where(BackfillChunkRow.job_id == job2.id, BackfillChunkRow.seq == 0)
            .with_for_update()
        ).one()
        claimed = log.claim(job2.id)
        assert claimed is not None
        assert claimed.seq == 1
        assert claimed.id != locked.id
        other.rollback()


@pytest.mark.postgres
def test_postgresql_batch_upsert_last_row_of_a_key_wins(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    shop.new.create_all(engine)
    rows = [{"id": i % 150, "customer": f"c{i}", "status": "active"} for i in range(300)]
    try:
        for _ in range(2):  # inserts, then conflicts on every row
            with engine.begin() as conn:
                assert upsert_rows(conn, shop.orders, rows) == 300
        with engine.connect() as conn:
            got = dict(conn.execute(select(shop.orders.c.id, shop.orders.c.customer)).all())
        assert len(got) == 150
        assert got[7] == "c157"
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.mariadb
@pytest.mark.parametrize("engine", ["postgres", "mariadb"])
def test_sql_mapping_in_one_database_with_workers(
    make_shop: Callable[..., Shop], request: pytest.FixtureRequest, engine: str
) -> None:
    url = request.getfixturevalue(f"{engine}_url")
    s = make_shop(url, url)
    s.add_lines(orders=200, lines=5)
    mapping = s.mapping("lines_sql")
    job = backfill(mapping, s.dbs, s.store, batch=70, workers=2)
    assert (job.state, job.copied) == ("done", 1000)
    assert s.count("order_lines") == 1000
    assert verify(mapping, s.dbs, s.store, chunk=150).clean


@pytest.mark.postgres
@pytest.mark.mariadb
@pytest.mark.parametrize("engine", ["postgres", "mariadb"])
def test_sql_mapping_overwrites_rows_already_in_the_target(
    make_shop: Callable[..., Shop], request: pytest.FixtureRequest, engine: str
) -> None:
    # Empty key ranges are copied by a plain INSERT; a range holding rows (a rerun, or rows
    # the new application wrote) by the upsert, which overwrites them.
    url = request.getfixturevalue(f"{engine}_url")
    s = make_shop(url, url)
    s.add_lines(orders=100, lines=3)
    lines = shop.order_lines
    with s.new.begin() as conn:
        conn.execute(insert(lines).values(order_id=60, line_no=2, sku="stale", quantity=0))
    mapping = s.mapping("lines_sql")
    job = backfill(mapping, s.dbs, s.store, batch=40)
    assert (job.state, job.copied) == ("done", 300)
    assert s.count("order_lines") == 300
    with s.new.connect() as conn:
        sku = conn.scalar(select(lines.c.sku).where(lines.c.order_id == 60, lines.c.line_no == 2))
    assert sku == "sku-60-2"
    assert verify(mapping, s.dbs, s.store, chunk=50).clean


@pytest.mark.postgres
@pytest.mark.mariadb
@pytest.mark.parametrize("engine", ["postgres", "mariadb"])
def test_sql_mapping_integer_key_batches_by_key_span(
    make_shop: Callable[..., Shop], request: pytest.FixtureRequest, engine: str
) -> None:
    # Integer keys advance by spans of key values (no index scan to find a batch's end):
    # sparse keys, gaps wider than a batch, and a second run over the copied rows count right.
    # (Not SQLite: its table names ignore case, so ORDERS and orders cannot share a file.)
    url = request.getfixturevalue(f"{engine}_url")
    s = make_shop(url, url)
    ids = [*range(5, 2000, 7), *range(50_000, 50_010)]
    s.add_orders(ids)
    mapping = shop.ORDERS_SQL_MAPPING
    first = backfill(mapping, s.dbs, s.store, batch=100)
    assert (first.state, first.copied, first.written) == ("done", len(ids), len(ids))
    assert s.count("orders") == len(ids)
    with s.new.begin() as conn:
        conn.execute(update(shop.orders).where(shop.orders.c.id == 12).values(customer="x"))
    again = backfill(mapping, s.dbs, s.store)  # a new job over rows already there: upserts
    assert (again.copied, s.count("orders")) == (len(ids), len(ids))
    assert verify(mapping, s.dbs, s.store).clean
