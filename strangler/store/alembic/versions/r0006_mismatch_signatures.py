"""which fields each minute's mismatches differed in, so that a field learned as noise later
turns the exchanges it alone made mismatch into noise in the report and readiness

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("shadow_minutes") as batch:
        batch.add_column(sa.Column("signatures", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("shadow_minutes") as batch:
        batch.drop_column("signatures")
