"""What ``strangler backfill`` and ``strangler verify`` do, as typed functions: the CLI
parses options and draws, these open the databases and run.

::

    cfg = load_config("strangler.yaml")
    job = run_backfill(cfg, "orders", BackfillOptions(workers=4, rate=2000))
    mapping, preview = dry_run_backfill(cfg, "orders")
    with open_mapping(cfg, "orders") as (mapping, dbs, store):
        result = verify(mapping, dbs, store)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from migrations.backfill import DryRun, Progress, backfill, dry_run
from migrations.mapping import Databases, Mapping, load_mapping, open_databases
from strangler.store import Store

if TYPE_CHECKING:
    from migrations.records import Job
    from strangler.config import Config

__all__ = ["BackfillOptions", "dry_run_backfill", "open_mapping", "run_backfill"]


@dataclass(frozen=True, slots=True)
class BackfillOptions:
    """How one backfill runs (see ``strangler backfill --help``).

    ``batch``: a fixed batch size (None: adaptive); ``rate``: at most this many legacy rows
    per second (0 lifts a stored throttle); ``since_column``: catch up the rows changed
    since the last watermark of that column.
    """

    batch: int | None = None
    rate: float | None = None
    workers: int = 1
    since_column: str | None = None


@contextmanager
def open_mapping(config: Config, name: str) -> Iterator[tuple[Mapping, Databases, Store]]:
    """The mapping ``name`` with the legacy and new databases and the store (its schema
    made current), closed again on exit."""
    mapping = load_mapping(config, name)
    dbs = open_databases(config)
    store = Store(config.store)
    try:
        store.ensure_schema()
        yield mapping, dbs, store
    finally:
        store.close()
        dbs.dispose()


def run_backfill(
    config: Config,
    name: str,
    options: BackfillOptions | None = None,
    *,
    on_start: Callable[[Job, bool], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
) -> Job:
    """Run (or resume) the backfill of mapping ``name`` to its end; returns the job as stored.

    ``on_start(job, resumed)`` is called once, ``on_progress`` after each batch.
    """
    o = options or BackfillOptions()
    with open_mapping(config, name) as (mapping, dbs, store):
        return backfill(
            mapping,
            dbs,
            store,
            batch=o.batch,
            rate=o.rate,
            workers=o.workers,
            since_column=o.since_column,
            on_progress=on_progress,
            on_start=on_start,
        )


def dry_run_backfill(config: Config, name: str, *, batch: int = 100) -> tuple[Mapping, DryRun]:
    """The mapping ``name`` and what its backfill would write from the first batches
    (nothing is written)."""
    with open_mapping(config, name) as (mapping, dbs, _store):
        return mapping, dry_run(mapping, dbs, batch=batch)
