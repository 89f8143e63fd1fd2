"""A route's recorded differences for its dashboard page (read from the shadow results).

Counts come from ``shadow_fields`` (per field and minute); the example of each field is
its newest sampled exchange in ``shadow_exchanges``, already redacted by the recorder,
with legacy's and new's answers side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from strangler.store import Store
from strangler.store.shadow_models import ShadowExchangeRow, ShadowFieldRow

__all__ = ["Difference", "for_route"]

EXAMPLE_CHARS = 4000


@dataclass(frozen=True, slots=True)
class Difference:
    """One differing field of a route: how often, how bad, and a redacted example."""

    field: str
    severity: str
    count: int
    noise: int
    legacy_example: str
    new_example: str


def _answer(status: int | None, body: str, error: str = "") -> str:
    if error:
        return f"(no answer: {error})"
    text = body if len(body) <= EXAMPLE_CHARS else body[:EXAMPLE_CHARS] + " ..."
    return f"HTTP {status}\n{text}" if status is not None else text


def for_route(
    store: Store, route: str, *, since: datetime | None = None, limit: int = 50
) -> list[Difference]:
    """The route's differing fields (real mismatches first, then noise), most frequent first."""
    with store.session() as s:
        q = select(
            ShadowFieldRow.field,
            func.max(ShadowFieldRow.severity),
            func.sum(ShadowFieldRow.mismatches),
            func.sum(ShadowFieldRow.noise),
        ).where(ShadowFieldRow.route == route)
        if since is not None:
            q = q.where(ShadowFieldRow.minute >= since)
        rows = s.execute(q.group_by(ShadowFieldRow.field)).all()
        counted = sorted(
            ((f, sev or "", int(m or 0), int(n or 0)) for f, sev, m, n in rows if m or n),
            key=lambda r: (-r[2], -r[3], r[0]),
        )[:limit]
        out: list[Difference] = []
        for name, severity, mismatches, noise in counted:
            ex = s.scalars(
                select(ShadowExchangeRow)
                .where(ShadowExchangeRow.route == route, ShadowExchangeRow.field == name)
                .order_by(ShadowExchangeRow.id.desc())
                .limit(1)
            ).first()
            legacy = new = "(no sampled exchange)"
            if ex is not None:
                primary = _answer(ex.primary_status, ex.primary_body)
                candidate = _answer(ex.candidate_status, ex.candidate_body, ex.candidate_error)
                legacy, new = (
                    (primary, candidate) if ex.primary_side == "legacy" else (candidate, primary)
                )
                severity = severity or ex.severity
            out.append(Difference(name, severity, mismatches, noise, legacy, new))
        return out
