"""The control plane: the operations an operator performs, as typed functions.

Each takes a config and a store (in the style of alembic's ``command`` module); the CLI, the
admin API and the tests call these and nothing else::

    >>> cfg = load_config("strangler.yaml")                       # doctest: +SKIP
    >>> store = open_store(cfg)                                   # doctest: +SKIP
    >>> flip_route(cfg, store, "GET /orgs/{slug}", "canary", Decimal("5"),
    ...            reason="first 5% of users")                   # doctest: +SKIP

The decisions themselves (gates, readiness, rollback, progress) are pure functions in
:mod:`strangler.rollout`; this package reads their inputs from the store and records
their outcome.
"""

from __future__ import annotations

from strangler.control._evidence import gate_flip, readiness_of, route_readiness
from strangler.control._flip import (
    describe_mode,
    flip_route,
    flip_to_json,
    format_percent,
    parse_percent,
)
from strangler.control._killswitch import (
    KillSwitchResult,
    engage_kill_switch,
    kill_switch_state,
    release_kill_switch,
)
from strangler.control._overview import (
    CATCH_ALL_MODE,
    RoutesOverview,
    RouteStatus,
    build_overview,
    routes_overview,
)
from strangler.control._progress import migration_progress
from strangler.control._store import open_store
from strangler.control._surface import Surface, SurfaceEntry, legacy_surface

__all__ = [
    "CATCH_ALL_MODE",
    "KillSwitchResult",
    "RouteStatus",
    "RoutesOverview",
    "Surface",
    "SurfaceEntry",
    "build_overview",
    "describe_mode",
    "engage_kill_switch",
    "flip_route",
    "flip_to_json",
    "format_percent",
    "gate_flip",
    "kill_switch_state",
    "legacy_surface",
    "migration_progress",
    "open_store",
    "parse_percent",
    "readiness_of",
    "release_kill_switch",
    "route_readiness",
    "routes_overview",
]
