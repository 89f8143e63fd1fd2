"""The data-migration kit (the store's own Alembic scripts live in ``strangler/store/alembic``).

The kit copies a legacy table into the new schema through a :class:`Mapping`, resumably
(:func:`backfill`), proves the copy (:func:`verify`) and guards contract migrations
(:func:`require_verified`). The ``strangler backfill | verify | jobs | throttle`` commands are
thin shells over these functions and over :func:`run_backfill`, :func:`dry_run_backfill` and
:func:`open_mapping`, which open a config's databases and store for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strangler import lazy_package as _lazy_package

if TYPE_CHECKING:
    from migrations.backfill import (
        DryRun,
        Progress,
        backfill,
        dry_run,
        next_batch_size,
        throttle_pause,
    )
    from migrations.command import (
        BackfillOptions,
        dry_run_backfill,
        open_mapping,
        run_backfill,
    )
    from migrations.contract import require_verified
    from migrations.mapping import Databases, Mapping, Transform, load_mapping, open_databases
    from migrations.records import Chunk, Job, JobLog, VerificationRecord
    from migrations.upsert import upsert_rows, upsert_statement
    from migrations.verify import RowDiff, Verification, verify

__all__ = [
    "BackfillOptions",
    "Chunk",
    "Databases",
    "DryRun",
    "Job",
    "JobLog",
    "Mapping",
    "Progress",
    "RowDiff",
    "Transform",
    "Verification",
    "VerificationRecord",
    "backfill",
    "dry_run",
    "dry_run_backfill",
    "load_mapping",
    "next_batch_size",
    "open_databases",
    "open_mapping",
    "require_verified",
    "run_backfill",
    "throttle_pause",
    "upsert_rows",
    "upsert_statement",
    "verify",
]

# Loaded on first use: `strangler.commands` imports this package for every `strangler` command.
_lazy_package(
    __name__,
    {
        "migrations.backfill": (
            "DryRun",
            "Progress",
            "backfill",
            "dry_run",
            "next_batch_size",
            "throttle_pause",
        ),
        "migrations.command": (
            "BackfillOptions",
            "dry_run_backfill",
            "open_mapping",
            "run_backfill",
        ),
        "migrations.contract": ("require_verified",),
        "migrations.mapping": (
            "Databases",
            "Mapping",
            "Transform",
            "load_mapping",
            "open_databases",
        ),
        "migrations.records": ("Chunk", "Job", "JobLog", "VerificationRecord"),
        "migrations.upsert": ("upsert_rows", "upsert_statement"),
        "migrations.verify": ("RowDiff", "Verification", "verify"),
    },
)
