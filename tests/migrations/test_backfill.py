"""Backfill on SQLite: transforms, composite keys, resume, batch changes, dry run, catch-up."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, update

from migrations import Progress, backfill, dry_run, verify
from migrations.backfill import next_batch_size, throttle_pause
from strangler._errors import MigrationError
from tests.migrations import shop
from tests.migrations.conftest import Shop


def test_transform_writes_new_representation(sqlite_shop: Shop) -> None:
    sqlite_shop.add_orders(range(1, 201))
    job = backfill(sqlite_shop.mapping(), sqlite_shop.dbs, sqlite_shop.store)
    assert (job.state, job.copied, job.skipped) == ("done", 200, 4)  # 50,100,150,200 are X
    with sqlite_shop.new.connect() as conn:
        row = conn.execute(select(shop.orders).where(shop.orders.c.id == 7)).one()
    assert row.customer == "customer 7"
    assert row.amount == Decimal("9.59")  # "0000959" cents
    # "2024-08-08 07:07:00" in Paris (summer time, UTC+2) is 05:07 UTC
    assert row.ordered_at.replace(tzinfo=UTC) == datetime(2024, 8, 8, 5, 7, tzinfo=UTC)
    assert row.status == "active"
    assert sqlite_shop.count("orders") == 196


def test_composite_key_from_a_select(sqlite_shop: Shop) -> None:
    sqlite_shop.add_lines(orders=40, lines=7)
    job = backfill(sqlite_shop.mapping("lines"), sqlite_shop.dbs, sqlite_shop.store, batch=9)
    with sqlite_shop.legacy.connect() as conn:
        want = conn.execute(select(shop.ORD_LN).where(shop.ORD_LN.c.QTY != "0")).all()
    assert job.state == "done"
    assert job.copied == len(want)
    assert job.end_key == (40, 7)
    assert sqlite_shop.count("order_lines") == len(want)
    assert verify(sqlite_shop.mapping("lines"), sqlite_shop.dbs).clean


def test_resume_with_another_batch_size_skips_nothing(sqlite_shop: Shop) -> None:
    sqlite_shop.add_orders(range(1, 1001))
    mapping = sqlite_shop.mapping()

    def stop_after_3(p: Progress) -> None:
        if p.copied >= 3 * 37:
            raise KeyboardInterrupt("operator pressed ^C")

    with pytest.raises(KeyboardInterrupt):
        backfill(mapping, sqlite_shop.dbs, sqlite_shop.store, batch=37, on_progress=stop_after_3)
    assert sqlite_shop.count("orders") < 200
    stored = sqlite_shop.store
    from migrations import JobLog

    (job,) = JobLog(stored).jobs()
    assert job.state == "failed"
    assert job.cursor == (111,)
    resumed: list[bool] = []
    done = backfill(
        mapping, sqlite_shop.dbs, stored, batch=250, on_start=lambda j, r: resumed.append(r)
    )
    assert resumed == [True]
    assert (done.id, done.state, done.copied, done.batch_size) == (job.id, "done", 1000, 250)
    assert sqlite_shop.count("orders") == 980
    assert verify(mapping, sqlite_shop.dbs).clean


def test_dry_run_writes_nothing(sqlite_shop: Shop) -> None:
    sqlite_shop.add_orders(range(1, 501))
    result = dry_run(sqlite_shop.mapping(), sqlite_shop.dbs, batch=100, batches=2)
    assert (result.legacy_rows, result.new_rows, result.skipped) == (200, 196, 4)
    key, rows = result.sample[0]
    assert key == (1,)
    assert rows[0]["amount"] == Decimal("1.37")
    assert sqlite_shop.count("orders") == 0
    from migrations import JobLog

    assert JobLog(sqlite_shop.store).jobs() == []


def test_a_missing_target_table_fails_the_dry_run_and_the_backfill(sqlite_shop: Shop) -> None:
    from sqlalchemy import text

    sqlite_shop.add_orders(range(1, 11))
    with sqlite_shop.dbs.new.begin() as conn:
        conn.execute(text("DROP TABLE orders"))
    for run in (
        lambda: dry_run(sqlite_shop.mapping(), sqlite_shop.dbs),
        lambda: backfill(sqlite_shop.mapping(), sqlite_shop.dbs, sqlite_shop.store),
    ):
        with pytest.raises(MigrationError, match="target table 'orders' does not exist") as info:
            run()
        assert "alembic upgrade" in str(info.value)
        assert "\n" not in str(info.value)  # one line, no SQL, no rows


def test_a_database_error_mid_backfill_is_one_line_without_the_rows(sqlite_shop: Shop) -> None:
    from sqlalchemy import text

    sqlite_shop.add_orders(range(1, 51))
    with sqlite_shop.dbs.new.begin() as conn:  # a rule of the new schema the mapping breaks
        conn.execute(text("DROP TABLE orders"))
        conn.execute(
            text(
                "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer VARCHAR(100), "
                "amount NUMERIC(12, 2), ordered_at DATETIME, status VARCHAR(16), "
                "note TEXT NOT NULL)"
            )
        )
    with pytest.raises(MigrationError) as info:
        backfill(sqlite_shop.mapping(), sqlite_shop.dbs, sqlite_shop.store, batch=20)
    message = str(info.value)
    assert "NOT NULL constraint failed: orders.note" in message
    assert "\n" not in message
    assert "parameters" not in message
    assert "INSERT" not in message  # no SQL, and no customer's row in the terminal
    assert len(message) < 400
    from migrations import JobLog

    (failed,) = JobLog(sqlite_shop.store).jobs()
    assert failed.state == "failed"
    assert failed.error.startswith("IntegrityError: NOT NULL constraint failed")
    assert "parameters" not in failed.error  # nor in the store's job log


def test_failing_transform_names_the_row_and_resumes_there(sqlite_shop: Shop) -> None:
    sqlite_shop.add_orders(range(1, 101))
    with sqlite_shop.legacy.begin() as conn:
        conn.execute(update(shop.ORDERS).where(shop.ORDERS.c.ORD_ID == 60).values(AMT_CTS="n/a"))
    mapping = sqlite_shop.mapping()
    with pytest.raises(MigrationError, match=r"legacy key \(60,\).*ValueError"):
        backfill(mapping, sqlite_shop.dbs, sqlite_shop.store, batch=20)
    assert sqlite_shop.count("orders") == 40  # batches 1..20 and 21..40 written, 41..60 not
    with sqlite_shop.legacy.begin() as conn:
        conn.execute(update(shop.ORDERS).where(shop.ORDERS.c.ORD_ID == 60).values(AMT_CTS="100"))
    assert backfill(mapping, sqlite_shop.dbs, sqlite_shop.store).state == "done"
    assert sqlite_shop.count("orders") == 98


def test_end_point_is_fixed_at_start(sqlite_shop: Shop) -> None:
    sqlite_shop.add_orders(range(1, 301))
    late = iter(range(10_000, 10_050))

    def insert_more(p: Progress) -> None:
        sqlite_shop.add_orders([next(late)])

    job = backfill(
        sqlite_shop.mapping(), sqlite_shop.dbs, sqlite_shop.store, batch=50, on_progress=insert_more
    )
    assert job.end_key == (300,)
    assert job.copied == 300
    assert sqlite_shop.count("orders") == 294  # the late orders wait for a catch-up


def test_catch_up_under_concurrent_legacy_writes(sqlite_shop: Shop) -> None:
    sqlite_shop.add_orders(range(1, 2001))
    mapping = sqlite_shop.mapping()
    stop = threading.Event()
    clock = [datetime(2024, 1, 1)]

    def legacy_app() -> None:
        n = 5000
        while not stop.is_set():
            clock[0] += timedelta(seconds=1)
            renamed = (n * 7) % 2000 + 1
            with sqlite_shop.legacy.begin() as conn:
                conn.execute(
                    update(shop.ORDERS)
                    .where(shop.ORDERS.c.ORD_ID.in_([renamed]))
                    .values(CUST_NM=f"renamed {n}", UPD_TS=clock[0])
                )
            sqlite_shop.add_orders([n], updated=clock[0])
            n += 1
            time.sleep(0.002)

    writer = threading.Thread(target=legacy_app)
    writer.start()
    try:
        full = backfill(mapping, sqlite_shop.dbs, sqlite_shop.store, batch=100, rate=4000)
        assert (full.kind, full.since_column) == ("full", "UPD_TS")
        first = backfill(
            mapping, sqlite_shop.dbs, sqlite_shop.store, since_column="UPD_TS", batch=100
        )
        assert first.kind == "catchup"
    finally:
        stop.set()
        writer.join()
    last = backfill(mapping, sqlite_shop.dbs, sqlite_shop.store, since_column="UPD_TS")
    assert last.kind == "catchup"
    # The final catch-up only re-reads what changed since the previous watermark.
    assert last.copied < full.copied
    result = verify(mapping, sqlite_shop.dbs, recheck_delay=0)
    assert (result.missing, result.extra, result.different) == ((), (), ())


def test_throttle_adjustable_while_running(sqlite_shop: Shop) -> None:
    sqlite_shop.add_orders(range(1, 301))
    from migrations import JobLog

    log = JobLog(sqlite_shop.store)
    rates: list[float | None] = []

    def lift(p: Progress) -> None:
        job = log.active("orders")
        assert job is not None
        rates.append(job.rate)
        log.set_rate("orders", None)

    job = backfill(
        sqlite_shop.mapping(),
        sqlite_shop.dbs,
        sqlite_shop.store,
        batch=30,
        rate=5,
        on_progress=lift,
    )
    # At 5 rows/s the 300 rows would take a minute; lifted after the first batch.
    assert job.state == "done"
    assert rates[0] == 5
    assert rates[1] is None


def test_batch_planning_is_pure() -> None:
    assert next_batch_size(1000, 0.25) == 2000
    assert next_batch_size(1000, 0.5) == 1000
    assert next_batch_size(1000, 5.0) == 500
    assert next_batch_size(10, 9.0) == 10
    assert throttle_pause(100, 0.1, 100) == pytest.approx(0.9)
    assert throttle_pause(100, 2.0, 100) == 0.0
    assert throttle_pause(100, 0.1, None) == 0.0


@pytest.mark.parametrize("one_database", [True, False])
def test_sql_mapping_runs_in_the_database(
    make_shop: Callable[..., Shop], tmp_path: Path, one_database: bool
) -> None:
    legacy = f"sqlite:///{tmp_path / 'legacy.db'}"
    s = make_shop(legacy, legacy if one_database else f"sqlite:///{tmp_path / 'new.db'}")
    s.add_lines(orders=50, lines=6)
    mapping = s.mapping("lines_sql")
    job = backfill(mapping, s.dbs, s.store, batch=13)
    assert (job.state, job.copied, job.written) == ("done", 300, 300)
    with s.new.connect() as conn:
        row = conn.execute(
            select(shop.order_lines).where(
                shop.order_lines.c.order_id == 3, shop.order_lines.c.line_no == 2
            )
        ).one()
    assert (row.sku, row.quantity, row.unit_price) == ("sku-3-2", 0, Decimal("1.06"))
    clean = verify(mapping, s.dbs, chunk=40)
    assert clean.clean
    checksums = {"checksums": "md5", "ranges_bisected": 0}
    assert clean.details == ({"in_database": True} if one_database else checksums)
    with s.new.begin() as conn:
        conn.execute(
            update(shop.order_lines)
            .where(shop.order_lines.c.order_id == 44, shop.order_lines.c.line_no == 5)
            .values(quantity=7)
        )
    found = verify(mapping, s.dbs, chunk=40, recheck_delay=0)
    assert [(d.key, d.columns) for d in found.different] == [((44, 5), {"quantity": (4, 7)})]
