"""The thin adapter between the store and the pure readiness verdict.

It sums each route's per-minute shadow aggregates over the readiness window into a
:class:`WindowStats`, fetches the newest parity-test, load-test and data-verification
results, and calls :func:`~strangler.rollout.readiness.assess`::

    >>> verdicts = readiness_of(cfg, store)                          # doctest: +SKIP
    >>> verdicts["GET /orgs/{slug}"].blockers                        # doctest: +SKIP
    ('sample: 12 compared requests in the last 1h (needs >= 100)',)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from strangler.config import Config
from strangler.control._killswitch import kill_switch_state
from strangler.records import Evidence
from strangler.rollout.gates import decide_flip, sends_more_to_new
from strangler.rollout.readiness import (
    EVIDENCE_KINDS,
    Condition,
    Readiness,
    WindowStats,
    assess,
)
from strangler.store import Store, traffic

__all__ = ["gate_flip", "readiness_of", "route_readiness"]


def _evidence(store: Store, route: str) -> dict[str, Evidence | None]:
    return {kind: store.latest_evidence(kind, route) for kind in EVIDENCE_KINDS}


def readiness_of(
    config: Config,
    store: Store,
    routes: Iterable[str] | None = None,
    *,
    now: datetime | None = None,
) -> dict[str, Readiness]:
    """The readiness verdict of each declared route (or of ``routes``), in config order."""
    now = now or datetime.now(UTC)
    wanted = set(routes) if routes is not None else None
    out: dict[str, Readiness] = {}
    windows: dict[float, dict[str, WindowStats]] = {}
    live = store.live_states()
    for rc in config.routes:
        if wanted is not None and rc.key not in wanted:
            continue
        thresholds = config.readiness.for_route(rc.key)
        if thresholds.window not in windows:
            since = now - timedelta(seconds=thresholds.window)
            windows[thresholds.window] = traffic.window_stats(store, since, now, wanted)
        stats = windows[thresholds.window].get(rc.key, WindowStats())
        # Refusals by one side only are not a difference of the rewrite: parity is judged
        # without them, and they block as one `auth` condition of their own.
        judged = replace(stats, mismatched=stats.mismatched - stats.auth_refused)
        verdict = assess(rc.key, judged, _evidence(store, rc.key), thresholds, now)
        blocker = _auth_blocker(config, rc.key, stats)
        if blocker is not None:
            verdict = replace(verdict, conditions=(*verdict.conditions, blocker))
        state = live.get(rc.key)
        out[rc.key] = replace(verdict, stats=stats, mode=state.mode if state else rc.mode)
    return out


def _auth_blocker(config: Config, route: str, stats: WindowStats) -> Condition | None:
    """Credentials that do not cross the seam block the move to canary or new: a route of
    an auth domain with no bridge towards new, or shadowed requests that one side refused."""
    found = config.auth.domain_of(route)
    unbridged = found is not None and found[1].to_new is None
    if not unbridged and not stats.auth_refused:
        return None
    refused = (
        f"{stats.auth_refused} of {stats.compared} compared requests refused (401/403) "
        "by one side only"
        if stats.auth_refused
        else ""
    )
    if found is None:
        return Condition(
            "auth",
            False,
            f"auth not bridged: {refused}",
            "an auth domain with a bridge for this route; see docs/auth.md",
        )
    i, domain = found
    where = f"auth.domains[{i}].to_new"
    if not unbridged:
        return Condition(
            "auth",
            False,
            f"auth not bridged: {refused} (domain {domain.name!r})",
            f"a bridge at {where} that the candidate accepts; see docs/auth.md",
        )
    said = f"the route is in auth domain {domain.name!r}, which has no bridge towards new"
    return Condition(
        "auth",
        False,
        f"{said}; {refused}" if refused else said,
        f"{where}: {{hook: 'module:function'}}, {{exchange: {{url: ...}}}} or pin; "
        "see docs/auth.md",
    )


def route_readiness(
    config: Config, store: Store, route: str, *, now: datetime | None = None
) -> Readiness:
    """The readiness verdict of one declared route."""
    key = config.route(route).key
    return readiness_of(config, store, [key], now=now)[key]


def gate_flip(
    config: Config,
    store: Store,
    route: str,
    *,
    from_mode: str,
    from_percent: Decimal | None,
    to_mode: str,
    to_percent: Decimal | None,
    force: bool = False,
) -> tuple[str, ...]:
    """Refuse (:class:`FlipRefused`) or let a flip through; called by ``flip_route``.

    Reads the kill switch and, only for a flip that sends more traffic to new, the route's
    readiness. Returns the blockers a forced flip overrode, for the audit log.
    """
    if not sends_more_to_new(from_mode, from_percent, to_mode, to_percent):
        return ()
    return decide_flip(
        route,
        from_mode=from_mode,
        from_percent=from_percent,
        to_mode=to_mode,
        to_percent=to_percent,
        readiness=route_readiness(config, store, route),
        kill_switch=kill_switch_state(store),
        force=force,
    )
