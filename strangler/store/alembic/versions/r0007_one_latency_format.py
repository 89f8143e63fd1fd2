"""traffic_minutes.latency in the one latency format of the store: the counts of a
shadow.histogram.LatencyHistogram (milliseconds), like shadow_minutes.legacy_ms and new_ms

Rows written before counted over Prometheus' buckets (seconds); each count is spread over
the histogram buckets its range covers (LatencyHistogram.spread). Downgrading adds the
histogram buckets back up into the Prometheus ones (exact: their bounds are among ours).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op

from shadow.histogram import BOUNDS_MS, LatencyHistogram

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The buckets traffic_minutes counted over until this revision (strangler.metrics'
# LATENCY_BUCKETS then, in milliseconds), the last count above them all.
PROMETHEUS_MS = (
    1.0,
    2.5,
    5.0,
    10.0,
    25.0,
    50.0,
    100.0,
    250.0,
    500.0,
    1000.0,
    2500.0,
    5000.0,
    10000.0,
)

_rows = sa.table("traffic_minutes", sa.column("id", sa.Integer()), sa.column("latency", sa.JSON()))
_BATCH = 1000


def _convert(size: int, change: Callable[[list[int]], list[int]]) -> None:
    """Rewrite, in id order and in batches, each row whose histogram has ``size`` counts."""
    bind = op.get_bind()
    last = 0
    while True:
        batch = bind.execute(
            sa.select(_rows.c.id, _rows.c.latency)
            .where(_rows.c.id > last)
            .order_by(_rows.c.id)
            .limit(_BATCH)
        ).all()
        if not batch:
            return
        for row_id, latency in batch:
            counts: Any = latency
            if isinstance(counts, list) and len(counts) == size:
                bind.execute(
                    _rows.update()
                    .where(_rows.c.id == row_id)
                    .values(latency=change([int(n) for n in counts]))
                )
        last = batch[-1][0]


def _to_histogram(counts: list[int]) -> list[int]:
    return LatencyHistogram.spread(PROMETHEUS_MS, counts).to_list()


def _to_prometheus(counts: list[int]) -> list[int]:
    out = [0] * (len(PROMETHEUS_MS) + 1)
    for i, n in enumerate(counts):
        upper = BOUNDS_MS[i] if i < len(BOUNDS_MS) else float("inf")
        out[bisect_left(PROMETHEUS_MS, upper)] += n
    return out


def upgrade() -> None:
    _convert(len(PROMETHEUS_MS) + 1, _to_histogram)


def downgrade() -> None:
    _convert(len(BOUNDS_MS) + 1, _to_prometheus)
