"""The data-migration kit (the store's own Alembic scripts live in ``strangler/store/alembic``).

The kit copies a legacy table into the new schema through a :class:`Mapping`, resumably
(:func:`backfill`), proves the copy (:func:`verify`) and guards contract migrations
(:func:`require_verified`). The ``strangler backfill | verify | jobs | throttle`` commands are
thin shells over these functions.
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
    from migrations.contract import require_verified
    from migrations.mapping import Databases, Mapping, Transform, load_mapping, open_databases
    from migrations.records import Chunk, Job, JobLog, VerificationRecord
    from migrations.upsert import upsert_rows, upsert_statement
    from migrations.verify import RowDiff, Verification, verify

__all__ = [
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
    "load_mapping",
    "next_batch_size",
    "open_databases",
    "require_verified",
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
