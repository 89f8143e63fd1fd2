"""shadow results: per-minute aggregates, per-field counts, sampled exchanges

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from strangler.store.models import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shadow_minutes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("route", sa.String(300), nullable=False),
        sa.Column("minute", UTCDateTime(), nullable=False),
        sa.Column("instance", sa.String(64), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("compared", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("noise", sa.Integer(), nullable=False),
        sa.Column("mismatch_status", sa.Integer(), nullable=False),
        sa.Column("mismatch_schema", sa.Integer(), nullable=False),
        sa.Column("mismatch_value", sa.Integer(), nullable=False),
        sa.Column("mismatch_added", sa.Integer(), nullable=False),
        sa.Column("noise_samples", sa.Integer(), nullable=False),
        sa.Column("not_compared", sa.JSON(), nullable=False),
        sa.Column("dropped", sa.JSON(), nullable=False),
        sa.Column("legacy_ms", sa.JSON(), nullable=False),
        sa.Column("new_ms", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shadow_minutes")),
        sa.UniqueConstraint("route", "minute", "instance", name="uq_shadow_minutes_key"),
    )
    op.create_index("ix_shadow_minutes_minute", "shadow_minutes", ["minute"])
    op.create_table(
        "shadow_fields",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("route", sa.String(300), nullable=False),
        sa.Column("minute", UTCDateTime(), nullable=False),
        sa.Column("instance", sa.String(64), nullable=False),
        sa.Column("field", sa.String(300), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("mismatches", sa.Integer(), nullable=False),
        sa.Column("noise", sa.Integer(), nullable=False),
        sa.Column("legacy_new", sa.Integer(), nullable=False),
        sa.Column("legacy_legacy", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shadow_fields")),
        sa.UniqueConstraint("route", "minute", "instance", "field", name="uq_shadow_fields_key"),
    )
    op.create_index("ix_shadow_fields_route_minute", "shadow_fields", ["route", "minute"])
    op.create_table(
        "shadow_exchanges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("route", sa.String(300), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("instance", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("field", sa.String(300), nullable=False),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("request_headers", sa.JSON(), nullable=False),
        sa.Column("request_body", sa.Text(), nullable=False),
        sa.Column("primary_side", sa.String(16), nullable=False),
        sa.Column("candidate_side", sa.String(16), nullable=False),
        sa.Column("primary_status", sa.Integer(), nullable=False),
        sa.Column("primary_headers", sa.JSON(), nullable=False),
        sa.Column("primary_body", sa.Text(), nullable=False),
        sa.Column("primary_ms", sa.Float(), nullable=False),
        sa.Column("candidate_status", sa.Integer(), nullable=True),
        sa.Column("candidate_headers", sa.JSON(), nullable=False),
        sa.Column("candidate_body", sa.Text(), nullable=False),
        sa.Column("candidate_ms", sa.Float(), nullable=True),
        sa.Column("candidate_error", sa.Text(), nullable=False),
        sa.Column("differences", sa.JSON(), nullable=False),
        sa.Column("noise", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shadow_exchanges")),
    )
    op.create_index("ix_shadow_exchanges_route_at", "shadow_exchanges", ["route", "at"])
    op.create_index("ix_shadow_exchanges_route_field", "shadow_exchanges", ["route", "field"])


def downgrade() -> None:
    op.drop_index("ix_shadow_exchanges_route_field", table_name="shadow_exchanges")
    op.drop_index("ix_shadow_exchanges_route_at", table_name="shadow_exchanges")
    op.drop_table("shadow_exchanges")
    op.drop_index("ix_shadow_fields_route_minute", table_name="shadow_fields")
    op.drop_table("shadow_fields")
    op.drop_index("ix_shadow_minutes_minute", table_name="shadow_minutes")
    op.drop_table("shadow_minutes")
