"""Migration progress: how much is done, how much traffic new serves, what blocks the rest.

:func:`build_progress` is pure (the routes' live states, their readiness and traffic
totals in, a :class:`Progress` out); :func:`strangler.control.migration_progress` reads them
from the store::

    >>> progress = migration_progress(cfg, store)                   # doctest: +SKIP
    >>> progress.done, progress.total, progress.share_new_day      # doctest: +SKIP
    (3, 12, 0.41)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from strangler.config import MODES
from strangler.records import TrafficPoint
from strangler.rollout.gates import KillSwitchState
from strangler.rollout.readiness import Readiness

__all__ = ["DONE_MODES", "Progress", "RouteProgress", "build_progress"]

DONE_MODES = frozenset({"new", "retired"})
_NEXT = {"legacy": "shadow", "shadow": "canary", "canary": "new", "new": "retired"}


@dataclass(frozen=True, slots=True)
class RouteProgress:
    """One route: where it is, what the next step is, and what blocks it."""

    route: str
    mode: str
    percent: Decimal | None
    held: bool
    next_mode: str | None
    ready: bool | None
    blockers: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "mode": self.mode,
            "percent": float(self.percent) if self.percent is not None else None,
            "held": self.held,
            "next_mode": self.next_mode,
            "ready": self.ready,
            "blockers": list(self.blockers),
        }


@dataclass(frozen=True, slots=True)
class Progress:
    """The migration as a whole: the number a team puts on its wall."""

    routes: tuple[RouteProgress, ...]
    share_new_hour: float | None
    share_new_day: float | None
    trend: tuple[TrafficPoint, ...]
    kill_switch: KillSwitchState

    @property
    def total(self) -> int:
        return len(self.routes)

    @property
    def done(self) -> int:
        """Routes served by new (``new`` or ``retired``)."""
        return sum(1 for r in self.routes if r.mode in DONE_MODES)

    @property
    def by_mode(self) -> dict[str, int]:
        counts = Counter(r.mode for r in self.routes)
        return {m: counts.get(m, 0) for m in MODES}

    def to_json(self) -> dict[str, Any]:
        return {
            "routes_total": self.total,
            "routes_done": self.done,
            "done_share": self.done / self.total if self.total else None,
            "by_mode": self.by_mode,
            "share_served_by_new": {"hour": self.share_new_hour, "day": self.share_new_day},
            "trend": [p.to_json() for p in self.trend],
            "kill_switch": self.kill_switch.to_json(),
            "routes": [r.to_json() for r in self.routes],
        }


def _route_progress(
    route: str, mode: str, percent: Decimal | None, held: bool, verdict: Readiness | None
) -> RouteProgress:
    next_mode = _NEXT.get(mode)
    if mode in DONE_MODES:
        return RouteProgress(route, mode, percent, held, next_mode, None, ())
    blockers: tuple[str, ...] = ()
    if mode == "legacy":
        blockers = ("not shadowed yet: flip it to shadow to start collecting evidence",)
    elif verdict is not None:
        blockers = verdict.blockers
    if held:
        blockers = ("held after an automatic rollback: a person must flip it", *blockers)
    ready = verdict.ready if verdict is not None and mode != "legacy" else None
    return RouteProgress(route, mode, percent, held, next_mode, ready, blockers)


def build_progress(
    states: Sequence[tuple[str, str, Decimal | None, bool]],
    readiness: Mapping[str, Readiness],
    *,
    share_new_hour: float | None,
    share_new_day: float | None,
    trend: Sequence[TrafficPoint] = (),
    kill_switch: KillSwitchState | None = None,
) -> Progress:
    """Progress from ``(route, mode, percent, held)`` tuples and each route's readiness."""
    routes = tuple(
        _route_progress(route, mode, percent, held, readiness.get(route))
        for route, mode, percent, held in states
    )
    return Progress(
        routes,
        share_new_hour,
        share_new_day,
        tuple(trend),
        kill_switch or KillSwitchState(False),
    )
