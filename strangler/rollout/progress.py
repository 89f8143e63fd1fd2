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
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from strangler.config import MODES
from strangler.records import TrafficPoint
from strangler.rollout.gates import KillSwitchState
from strangler.rollout.readiness import Readiness

__all__ = ["DONE_MODES", "Forecast", "Progress", "RouteProgress", "build_progress", "forecast"]

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
    forecast: Forecast | None = None

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
            "forecast": self.forecast.to_json() if self.forecast is not None else None,
            "routes": [r.to_json() for r in self.routes],
        }


MIN_FINISHED = 3
"""Routes that must have reached new before a pace is worth extrapolating."""
MIN_HISTORY = timedelta(days=1)
"""History the pace must span (a burst of flips in one afternoon says little)."""


@dataclass(frozen=True, slots=True)
class Forecast:
    """When the last route reaches new at the current pace, with an 80 % range, or why
    there is no forecast (``reason``)."""

    remaining: int
    finished: int
    per_week: float | None = None
    expected: datetime | None = None
    earliest: datetime | None = None
    latest: datetime | None = None  # None with an ``expected``: no upper bound (pace ~ 0)
    reason: str = ""

    def describe(self) -> str:
        if self.remaining == 0:
            return "every declared route is on new"
        if self.expected is None:
            return f"no forecast: {self.reason}"
        late = f"{self.latest:%Y-%m-%d}" if self.latest is not None else "open-ended"
        return (
            f"{self.remaining} routes left at {self.per_week:.1f} routes/week: around "
            f"{self.expected:%Y-%m-%d} (80 % range {self.earliest:%Y-%m-%d} to {late})"
        )

    def to_json(self) -> dict[str, Any]:
        def when(at: datetime | None) -> str | None:
            return at.isoformat() if at is not None else None

        return {
            "remaining": self.remaining,
            "finished": self.finished,
            "routes_per_week": round(self.per_week, 3) if self.per_week is not None else None,
            "expected": when(self.expected),
            "earliest": when(self.earliest),
            "latest": when(self.latest),
            "reason": self.reason or None,
            "text": self.describe(),
        }


def forecast(
    finished_at: Sequence[datetime], remaining: int, *, started: datetime, now: datetime
) -> Forecast:
    """When ``remaining`` routes will have reached new, at the pace of ``finished_at`` (the
    times routes first reached new or retired) since ``started`` (the migration's first
    flip).

    Finishing routes is read as a Poisson process: ``k`` routes in ``T`` give the rate
    ``k / T``, and its 80 % range is ``(k -/+ 1.28 sqrt(k)) / T`` (normal approximation),
    which turns into the range of dates. With fewer than :data:`MIN_FINISHED` routes
    finished, or less than :data:`MIN_HISTORY` of history, the forecast says so instead.

    >>> from datetime import UTC
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> done = [t0 + timedelta(days=d) for d in (7, 14, 21, 28)]
    >>> f = forecast(done, 8, started=t0, now=t0 + timedelta(days=28))
    >>> round(f.per_week, 1), f.expected.date()
    (1.0, datetime.date(2026, 3, 26))
    """
    k = len(finished_at)
    span = now - started
    if remaining <= 0:
        return Forecast(0, k)
    if k < MIN_FINISHED:
        return Forecast(remaining, k, reason=f"not enough history: {k} routes on new so far "
                        f"(a pace needs {MIN_FINISHED})")  # fmt: skip
    if span < MIN_HISTORY:
        return Forecast(remaining, k, reason="not enough history: the first flip is less than "
                        "a day old")  # fmt: skip
    weeks = span / timedelta(weeks=1)
    rate = k / weeks
    spread = 1.28 * k**0.5
    fast, slow = (k + spread) / weeks, (k - spread) / weeks
    return Forecast(
        remaining,
        k,
        per_week=rate,
        expected=now + timedelta(weeks=remaining / rate),
        earliest=now + timedelta(weeks=remaining / fast),
        latest=now + timedelta(weeks=remaining / slow) if slow > 0 else None,
    )


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
    forecast: Forecast | None = None,
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
        forecast,
    )
