"""The store: SQLAlchemy models and repository (SQLite by default, PostgreSQL in production)."""

from __future__ import annotations

from strangler.store import (
    discovery_models,
    job_models,
    killswitch,
    models,
    shadow_models,
    traffic_models,
)
from strangler.store.jobs import Chunk, Job, JobLog, VerificationRecord, worker_id
from strangler.store.keys import Key, decode_key, decode_value, encode_key, encode_value
from strangler.store.repository import Evidence, Flip, RouteState, Store, default_actor, make_engine
from strangler.store.schema import current_revision, downgrade, head_revision, upgrade
from strangler.store.shadow import SampledExchange, exchanges_from

__all__ = [
    "Chunk",
    "Evidence",
    "Flip",
    "Job",
    "JobLog",
    "Key",
    "RouteState",
    "SampledExchange",
    "Store",
    "VerificationRecord",
    "current_revision",
    "decode_key",
    "decode_value",
    "default_actor",
    "discovery_models",
    "downgrade",
    "encode_key",
    "encode_value",
    "exchanges_from",
    "head_revision",
    "job_models",
    "killswitch",
    "make_engine",
    "models",
    "shadow_models",
    "traffic_models",
    "upgrade",
    "worker_id",
]
