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
    for rc in config.routes:
        if wanted is not None and rc.key not in wanted:
            continue
        thresholds = config.readiness.for_route(rc.key)
        if thresholds.window not in windows:
            since = now - timedelta(seconds=thresholds.window)
            windows[thresholds.window] = traffic.window_stats(store, since, now, wanted)
        stats = windows[thresholds.window].get(rc.key, WindowStats())
        verdict = assess(rc.key, stats, _evidence(store, rc.key), thresholds, now)
        out[rc.key] = _with_auth(config, rc.key, verdict)
    return out


def _with_auth(config: Config, route: str, verdict: Readiness) -> Readiness:
    """A route of an auth domain with no bridge towards new cannot move to canary or new:
    new would refuse every credential legacy issued."""
    found = config.auth.domain_of(route)
    if found is None or found[1].to_new is not None:
        return verdict
    i, domain = found
    blocker = Condition(
        "auth",
        False,
        f"the route is in auth domain {domain.name!r}, which has no bridge towards new",
        f"auth.domains[{i}].to_new: {{hook: 'module:function'}}, "
        "{exchange: {url: ...}} or pin; see docs/auth.md",
    )
    return replace(verdict, conditions=(*verdict.conditions, blocker))


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
