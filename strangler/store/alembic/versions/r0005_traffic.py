"""served traffic per route, minute, proxy process and side

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from strangler.store.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "traffic_minutes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("route", sa.String(300), nullable=False),
        sa.Column("minute", UTCDateTime(), nullable=False),
        sa.Column("instance", sa.String(64), nullable=False),
        sa.Column("side", sa.String(16), nullable=False),
        sa.Column("served", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("errors", sa.Integer(), nullable=False),
        sa.Column("latency", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_traffic_minutes")),
        sa.UniqueConstraint("route", "minute", "instance", "side", name="uq_traffic_minutes_key"),
    )
    op.create_index("ix_traffic_minutes_minute", "traffic_minutes", ["minute"])


def downgrade() -> None:
    op.drop_index("ix_traffic_minutes_minute", table_name="traffic_minutes")
    op.drop_table("traffic_minutes")
