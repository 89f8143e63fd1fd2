"""The legacy surface: every endpoint, declared or not, with its traffic and next step."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from strangler._modes import CATCH_ALL
from strangler.config import Config
from strangler.control._overview import routes_overview
from strangler.store import Store
from strangler.store.traffic import route_activity

__all__ = ["Surface", "SurfaceEntry", "legacy_surface"]

_NEXT_STEP = {
    "legacy": "shadow it (flip to shadow: compared, never served by new)",
    "shadow": "flip it to canary once ready",
    "canary": "flip it to new once ready",
    "new": "retire legacy's endpoint once it stays quiet",
    "retired": "done",
}


@dataclass(frozen=True, slots=True)
class SurfaceEntry:
    """One endpoint of the legacy surface."""

    route: str
    declared: bool
    mode: str  # the live mode; "legacy" (the catch-all) for an endpoint not declared
    served_day: int
    served_week: int
    last_seen: datetime | None
    log_requests: int  # in the access logs given, 0 when none
    next_step: str

    def to_json(self, day_total: int, week_total: int, log_total: int) -> dict[str, Any]:
        return {
            "route": self.route,
            "declared": self.declared,
            "mode": self.mode,
            "served_day": self.served_day,
            "served_week": self.served_week,
            "share_day": self.served_day / day_total if day_total else None,
            "share_week": self.served_week / week_total if week_total else None,
            "last_seen": self.last_seen.isoformat() if self.last_seen else None,
            "log_requests": self.log_requests,
            "log_share": self.log_requests / log_total if log_total else None,
            "next_step": self.next_step,
        }


@dataclass(frozen=True, slots=True)
class Surface:
    """Every endpoint, declared first (in config order), then those only the logs know."""

    entries: tuple[SurfaceEntry, ...]
    idle: timedelta

    @property
    def day_total(self) -> int:
        return sum(e.served_day for e in self.entries)

    @property
    def week_total(self) -> int:
        return sum(e.served_week for e in self.entries)

    @property
    def log_total(self) -> int:
        return sum(e.log_requests for e in self.entries)

    @property
    def retirement_candidates(self) -> tuple[SurfaceEntry, ...]:
        return tuple(e for e in self.entries if e.next_step.startswith("retirement candidate"))

    def to_json(self) -> dict[str, Any]:
        day, week, logs = self.day_total, self.week_total, self.log_total
        return {
            "idle_after_seconds": self.idle.total_seconds(),
            "endpoints": len(self.entries),
            "declared": sum(1 for e in self.entries if e.declared),
            "retirement_candidates": [e.route for e in self.retirement_candidates],
            "entries": [e.to_json(day, week, logs) for e in self.entries],
        }


def legacy_surface(
    config: Config,
    store: Store,
    *,
    logs: Sequence[Path] = (),
    idle: timedelta = timedelta(days=7),
    now: datetime | None = None,
) -> Surface:
    """The surface from the config, the traffic the proxies recorded (the last week) and,
    with ``logs``, the endpoints access logs, HAR files or OpenAPI documents show that no
    route declares (see :func:`strangler.discovery.discover`)."""
    now = now or datetime.now(UTC)
    activity = route_activity(store, now - timedelta(days=7), now - timedelta(days=1))
    found = None
    if logs:
        from strangler.discovery import discover  # only when asked: it reads files

        found = discover(list(logs), config=config)
    in_logs: dict[str, int] = {}
    if found is not None:
        for d in found.routes:
            key = found.declared.get(d.route)
            if key is not None:
                in_logs[key] = in_logs.get(key, 0) + d.count
    entries = []
    # "no traffic" means something only when the proxy served some in the week
    recorded = any(week for _, week, _ in activity.values())
    for r in routes_overview(config, store).routes:
        if not r.in_config:
            continue
        day, week, last = activity.get(r.route, (0, 0, None))
        step = _NEXT_STEP[r.mode]
        quiet = recorded and (last is None or now - last > idle)
        if quiet and r.mode != "retired" and in_logs.get(r.route, 0) == 0:
            step = "retirement candidate: no traffic in the last " + _days(idle)
        entries.append(
            SurfaceEntry(r.route, True, r.mode, day, week, last, in_logs.get(r.route, 0), step)
        )
    if found is not None:
        for d in found.undeclared:
            entries.append(
                SurfaceEntry(d.route, False, "legacy", 0, 0, None, d.count,
                             "declare it (strangler discover prints the entry), then shadow it")
            )  # fmt: skip
    day, week, last = activity.get(CATCH_ALL, (0, 0, None))
    if week:
        entries.append(
            SurfaceEntry(CATCH_ALL, False, "legacy", day, week, last, 0,
                         "undeclared traffic: run strangler discover on the access logs")
        )  # fmt: skip
    return Surface(tuple(entries), idle)


def _days(span: timedelta) -> str:
    days = span / timedelta(days=1)
    return f"{days:g} days" if days >= 1 else f"{span.total_seconds() / 3600:g} hours"
