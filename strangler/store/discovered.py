"""Writes and reads the endpoints the proxy discovered in live traffic (``discovered_minutes``).

Each proxy process adds its per-minute counts to rows carrying its own ``instance`` (see
:mod:`strangler.store.aggregates`), so the workers of ``strangler serve --workers N`` never
write one row; readers sum the instances. Only templates are stored, never raw paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.orm import Session

from strangler.store.aggregates import minute_row
from strangler.store.discovery_models import DiscoveredMinuteRow
from strangler.store.repository import Store

__all__ = ["discovered_activity", "write_discovered"]

Key = tuple[str, str, datetime]  # method, template, minute


def write_discovered(
    store: Store,
    instance: str,
    rows: Mapping[Key, int],
    renames: Mapping[tuple[str, str], str] | None = None,
) -> None:
    """Add per ``(method, template, minute)`` requests to this process's rows, after moving
    the counts of each ``(method, old template)`` in ``renames`` to its new template, in one
    transaction (raises StoreError; nothing is written then)."""
    with store.session() as s:
        if renames:
            _rename(s, instance, renames)
        for (method, template, minute), requests in rows.items():
            key = {"method": method, "template": template, "minute": minute, "instance": instance}
            row = minute_row(s, DiscoveredMinuteRow, key, {"requests": 0})
            row.requests += requests


def _rename(s: Session, instance: str, renames: Mapping[tuple[str, str], str]) -> None:
    T = DiscoveredMinuteRow
    olds = sorted(renames)
    found = s.execute(
        select(T.method, T.template, T.minute, T.requests).where(
            T.instance == instance, tuple_(T.method, T.template).in_(olds)
        )
    ).all()
    s.execute(delete(T).where(T.instance == instance, tuple_(T.method, T.template).in_(olds)))
    for method, template, minute, requests in found:
        new = renames[(method, template)]
        key = {"method": method, "template": new, "minute": minute, "instance": instance}
        row = minute_row(s, T, key, {"requests": 0})
        row.requests += requests


def discovered_activity(
    store: Store, since: datetime, day_start: datetime
) -> dict[tuple[str, str], tuple[int, int, datetime]]:
    """Per ``(method, template)``, every instance summed: requests since ``day_start`` and
    since ``since``, and the last minute it had any."""
    T = DiscoveredMinuteRow
    with store.session() as s:
        rows = s.execute(
            select(T.method, T.template, func.sum(T.requests), func.max(T.minute))
            .where(T.minute >= since.replace(second=0, microsecond=0), T.requests > 0)
            .group_by(T.method, T.template)
        ).all()
        recent = {
            (method, template): total
            for method, template, total in s.execute(
                select(T.method, T.template, func.sum(T.requests))
                .where(T.minute >= day_start.replace(second=0, microsecond=0))
                .group_by(T.method, T.template)
            ).all()
        }
    return {
        (method, template): (int(recent.get((method, template)) or 0), int(total or 0), last)
        for method, template, total, last in rows
    }
