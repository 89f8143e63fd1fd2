"""The one per-minute aggregate writer: each proxy process adds its counts for a key
(route, minute, its own instance id, and the table's own parts) to one row.

A process only ever writes rows carrying its own instance id, so two processes never
update one row and no lock or merge is needed, on any engine: read the row of the key (or
start it at zero), add, commit. The shadow recorder and the traffic recorder both write
this way. A write that fails is rolled back whole, so nothing is counted twice: the counts
stay in the recorder's :class:`PendingMinutes` (bounded alike for both) until a write
succeeds. Latencies are stored in one format in every table, the counts of a
:class:`shadow.histogram.LatencyHistogram` (milliseconds), added with :func:`add_latency`.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from shadow.histogram import LatencyHistogram
from strangler.store.models import Base

__all__ = ["MAX_PENDING", "PendingMinutes", "add_latency", "minute_row"]

Row = TypeVar("Row", bound=Base)
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

MAX_PENDING = 20_000
"""Keys a recorder keeps for a later write while the store is down (per kind of row)."""


class PendingMinutes(dict[K, V]):
    """Per-minute counts of one process not written yet, by key (a dict, in insertion order).

    A recorder adds to it as it counts, writes it whole in one transaction, and clears it
    once written; when the write fails the counts stay for the next try. While the store
    stays down, :meth:`trim` keeps the newest ``cap`` keys and returns what it dropped, so
    the recorder can count what was lost.
    """

    def __init__(self, cap: int = MAX_PENDING) -> None:
        super().__init__()
        self.cap = cap

    def trim(self) -> list[V]:
        """Drop the oldest keys beyond ``cap``; their counts, oldest first."""
        dropped: list[V] = []
        while len(self) > self.cap:
            dropped.append(self.pop(next(iter(self))))
        return dropped


def minute_row(
    session: Session, model: type[Row], key: Mapping[str, Any], zeros: Mapping[str, Any]
) -> Row:
    """The row of ``key`` in ``model``'s table, added at ``zeros`` when there is none yet."""
    query = select(model).where(*(getattr(model, name) == value for name, value in key.items()))
    row = session.scalars(query).first()
    if row is None:
        row = model(**key, **zeros)
        session.add(row)
    return row


def add_latency(stored: Sequence[int] | None, more: LatencyHistogram | Sequence[int]) -> list[int]:
    """A stored latency histogram with ``more`` added, as it is stored again."""
    total = LatencyHistogram(stored)
    total.merge(more)
    return total.to_list()
