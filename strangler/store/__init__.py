"""The store: SQLAlchemy models and repository (SQLite by default, PostgreSQL in production)."""

from __future__ import annotations

from strangler.store import jobs, killswitch, models, shadow_models, traffic_models
from strangler.store.repository import Evidence, Flip, RouteState, Store, default_actor, make_engine
from strangler.store.schema import current_revision, downgrade, head_revision, upgrade

__all__ = [
    "Evidence",
    "Flip",
    "RouteState",
    "Store",
    "current_revision",
    "default_actor",
    "downgrade",
    "head_revision",
    "jobs",
    "killswitch",
    "make_engine",
    "models",
    "shadow_models",
    "traffic_models",
    "upgrade",
]
