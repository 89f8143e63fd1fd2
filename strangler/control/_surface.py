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
from strangler.discovery import OTHER, DiscoveredRoute, declared_by, regroup
from strangler.store import Store
from strangler.store.discovered import discovered_activity
from strangler.store.traffic import route_activity

__all__ = ["Surface", "SurfaceEntry", "legacy_surface"]

_NEXT_STEP = {
    "legacy": "shadow it (flip to shadow: compared, never served by new)",
    "shadow": "flip it to canary once ready",
    "canary": "flip it to new once ready",
    "new": "retire legacy's endpoint once it stays quiet",
    "retired": "done",
}
_DECLARE_LIVE = "declare it and shadow it (seen in the catch-all's traffic)"
_DECLARE_LOGGED = "declare it (strangler discover prints the entry), then shadow it"
_REST = "undeclared traffic: run strangler discover on the access logs"
_REST_LIVE = "the catch-all's other traffic: 404s, endpoints declared since, older traffic"


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
    source: str = "config"  # or: "live" (the proxies' catch-all traffic), "logs", "catch-all"

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
            "source": self.source,
        }


@dataclass(frozen=True, slots=True)
class Surface:
    """Every endpoint: declared first (in config order), then those no route declares (the
    proxies discovered them, or the logs show them), busiest first, then the rest of the
    catch-all's traffic."""

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
    """The surface from the config, the traffic the proxies recorded (the last week), the
    endpoints the proxies discovered in their catch-all traffic and, with ``logs``, the
    endpoints access logs, HAR files or OpenAPI documents show that no route declares (see
    :func:`strangler.discovery.discover`)."""
    now = now or datetime.now(UTC)
    activity = route_activity(store, now - timedelta(days=7), now - timedelta(days=1))
    live = _live_endpoints(config, store, now)
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
    entries += _undeclared(live, found.undeclared if found is not None else ())
    entries += _catch_all_rest(activity.get(CATCH_ALL), live)
    return Surface(tuple(entries), idle)


@dataclass(frozen=True, slots=True)
class _Endpoint:
    """An endpoint the proxies discovered: its methods and template, and its traffic."""

    methods: frozenset[str]
    path: str
    day: int
    week: int
    last: datetime

    def as_route(self) -> DiscoveredRoute:
        return DiscoveredRoute(tuple(sorted(self.methods)), self.path, self.week, 0.0)


@dataclass(frozen=True, slots=True)
class _Live:
    """What the proxies discovered in the catch-all's traffic: the endpoints no route
    declares, and how much of the catch-all's traffic they carry."""

    endpoints: tuple[_Endpoint, ...]
    placed_day: int
    placed_week: int


def _live_endpoints(config: Config, store: Store, now: datetime) -> _Live:
    rows = discovered_activity(store, now - timedelta(days=7), now - timedelta(days=1))
    # the bounded trees could not place OTHER's requests: they stay in the catch-all's rest
    rows = {key: value for key, value in rows.items() if key[1] != OTHER}
    # the templates of every process (every worker) inferred together
    merged = regroup({key: week for key, (_, week, _) in rows.items()})
    by_path: dict[str, _Endpoint] = {}
    for (method, stored), (day, week, last) in rows.items():
        template = merged[(method, stored)]
        e = by_path.get(template) or _Endpoint(frozenset(), template, 0, 0, last)
        by_path[template] = _Endpoint(
            e.methods | {method}, template, e.day + day, e.week + week, max(e.last, last)
        )
    found = list(by_path.values())
    declared = declared_by([e.as_route() for e in found], config)  # declared since then
    # those stay in the catch-all's rest: it served them, and the totals stay whole
    undeclared = tuple(e for e in found if e.as_route().route not in declared)
    return _Live(undeclared, sum(e.day for e in undeclared), sum(e.week for e in undeclared))


def _undeclared(live: _Live, in_logs: Sequence[DiscoveredRoute]) -> list[SurfaceEntry]:
    """The endpoints no route declares: live ones, and those only the logs know, as one
    entry per shape (``/orgs/{org}`` and ``/orgs/{slug}`` are one endpoint), busiest first."""
    logged = {_shape(d.path): d for d in in_logs}
    out = []
    for e in live.endpoints:
        d = logged.pop(_shape(e.path), None)
        methods = e.methods | set(d.methods) if d is not None else e.methods
        route = f"{','.join(sorted(methods))} {e.path}"
        count, source = (d.count, "live, logs") if d is not None else (0, "live")
        out.append(
            SurfaceEntry(
                route, False, "legacy", e.day, e.week, e.last, count, _DECLARE_LIVE, source
            )
        )
    for d in logged.values():
        out.append(
            SurfaceEntry(d.route, False, "legacy", 0, 0, None, d.count, _DECLARE_LOGGED, "logs")
        )
    out.sort(key=lambda e: (-e.served_week, -e.log_requests, e.route))
    return out


def _catch_all_rest(catch_all: tuple[int, int, datetime] | None, live: _Live) -> list[SurfaceEntry]:
    """The catch-all's traffic no undeclared endpoint accounts for (404s, endpoints declared
    since, what came before live discovery or past its bound), when there is any."""
    day, week, last = catch_all or (0, 0, None)
    day, week = max(0, day - live.placed_day), max(0, week - live.placed_week)
    if not week:
        return []
    step = _REST_LIVE if live.placed_week else _REST
    return [SurfaceEntry(CATCH_ALL, False, "legacy", day, week, last, 0, step, "catch-all")]


def _shape(path: str) -> str:
    return "/".join("{}" if s.startswith("{") else s for s in path.split("/"))


def _days(span: timedelta) -> str:
    days = span / timedelta(days=1)
    return f"{days:g} days" if days >= 1 else f"{span.total_seconds() / 3600:g} hours"
