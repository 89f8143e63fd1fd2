"""endpoints discovered in live traffic per method, template, minute and proxy process

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from strangler.store.models import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "discovered_minutes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("template", sa.String(300), nullable=False),
        sa.Column("minute", UTCDateTime(), nullable=False),
        sa.Column("instance", sa.String(64), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discovered_minutes")),
        sa.UniqueConstraint(
            "method", "template", "minute", "instance", name="uq_discovered_minutes_key"
        ),
    )
    op.create_index("ix_discovered_minutes_minute", "discovered_minutes", ["minute"])


def downgrade() -> None:
    op.drop_index("ix_discovered_minutes_minute", table_name="discovered_minutes")
    op.drop_table("discovered_minutes")
