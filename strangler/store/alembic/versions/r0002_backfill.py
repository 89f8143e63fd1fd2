"""backfill jobs, chunks and verification verdicts of the data-migration kit

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from strangler.store.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backfill_jobs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mapping", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("cursor", sa.JSON(), nullable=True),
        sa.Column("end_key", sa.JSON(), nullable=True),
        sa.Column("since_column", sa.String(200), nullable=True),
        sa.Column("since", sa.JSON(), nullable=True),
        sa.Column("watermark", sa.JSON(), nullable=True),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("copied", sa.BigInteger(), nullable=False),
        sa.Column("written", sa.BigInteger(), nullable=False),
        sa.Column("skipped", sa.BigInteger(), nullable=False),
        sa.Column("failed", sa.BigInteger(), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("rate", sa.Float(), nullable=True),
        sa.Column("workers", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("heartbeat", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backfill_jobs")),
    )
    op.create_index("ix_backfill_jobs_mapping_state", "backfill_jobs", ["mapping", "state"])
    op.create_table(
        "backfill_chunks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("lo", sa.JSON(), nullable=True),
        sa.Column("hi", sa.JSON(), nullable=True),
        sa.Column("cursor", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("copied", sa.BigInteger(), nullable=False),
        sa.Column("claimed_by", sa.String(200), nullable=True),
        sa.Column("claimed_at", UTCDateTime(), nullable=True),
        sa.Column("heartbeat", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["backfill_jobs.id"],
            name=op.f("fk_backfill_chunks_job_id_backfill_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backfill_chunks")),
    )
    op.create_index("ix_backfill_chunks_job_id_state", "backfill_chunks", ["job_id", "state"])
    op.create_table(
        "verifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("mapping", sa.String(200), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("clean", sa.Boolean(), nullable=False),
        sa.Column("legacy_rows", sa.BigInteger(), nullable=False),
        sa.Column("new_rows", sa.BigInteger(), nullable=False),
        sa.Column("missing", sa.Integer(), nullable=False),
        sa.Column("extra", sa.Integer(), nullable=False),
        sa.Column("different", sa.Integer(), nullable=False),
        sa.Column("repaired", sa.Boolean(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verifications")),
    )
    op.create_index("ix_verifications_mapping_at", "verifications", ["mapping", "at"])


def downgrade() -> None:
    op.drop_index("ix_verifications_mapping_at", table_name="verifications")
    op.drop_table("verifications")
    # MariaDB refuses to drop an index its foreign key needs; dropping the table takes both.
    op.drop_table("backfill_chunks")
    op.drop_index("ix_backfill_jobs_mapping_state", table_name="backfill_jobs")
    op.drop_table("backfill_jobs")
