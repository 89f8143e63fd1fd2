"""A route's recorded differences for its dashboard page (read from the shadow results).

Counts come from ``shadow_fields`` (per field and minute); the example of each field is
its newest sampled exchange in ``shadow_exchanges``, already redacted by the recorder,
with legacy's and new's answers side by side.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from strangler.report.diffview import DiffView, side_by_side
from strangler.store import Store
from strangler.store.shadow import field_totals, latest_exchange

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
    view: DiffView | None = None  # the two answers side by side, the field's places marked


def _answer(status: int | None, body: str, error: str = "") -> str:
    if error:
        return f"(no answer: {error})"
    text = body if len(body) <= EXAMPLE_CHARS else body[:EXAMPLE_CHARS] + " ..."
    return f"HTTP {status}\n{text}" if status is not None else text


def for_route(
    store: Store, route: str, *, since: datetime | None = None, limit: int = 50
) -> list[Difference]:
    """The route's differing fields (real mismatches first, then noise), most frequent first."""
    counted = sorted(
        field_totals(store, route, since), key=lambda t: (-t.mismatches, -t.noise, t.field)
    )[:limit]
    out: list[Difference] = []
    for t in counted:
        severity = t.severity
        ex = latest_exchange(store, route, t.field)
        legacy = new = "(no sampled exchange)"
        view = None
        if ex is not None:
            primary = _answer(ex.primary_status, ex.primary_body)
            candidate = _answer(ex.candidate_status, ex.candidate_body, ex.candidate_error)
            legacy, new = (
                (primary, candidate) if ex.primary_side == "legacy" else (candidate, primary)
            )
            severity = severity or ex.severity
            paths = [
                str(d.get("path", ""))
                for d in [*ex.differences, *ex.noise]
                if d.get("field") == t.field
            ]
            sides = (
                (ex.primary_side, ex.primary_status, ex.primary_body),
                (
                    ex.candidate_side,
                    ex.candidate_status,
                    ex.candidate_body or f"(no answer: {ex.candidate_error})",
                ),
            )
            first, second = sides if ex.primary_side == "legacy" else sides[::-1]
            view = side_by_side(first, second, paths)
        out.append(Difference(t.field, severity, t.mismatches, t.noise, legacy, new, view))
    return out
