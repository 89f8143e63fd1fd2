"""strangler: finish a gradual rewrite of a legacy HTTP service, one endpoint at a time."""

from __future__ import annotations

from strangler._errors import (
    ConfigError,
    FlipRefused,
    InvalidFlip,
    LoadError,
    MigrationError,
    RouteError,
    StoreError,
    StranglerError,
    UpstreamConnectError,
    UpstreamError,
    UpstreamTimeout,
)
from strangler.config import Config, load_config

__all__ = [
    "Config",
    "ConfigError",
    "FlipRefused",
    "InvalidFlip",
    "LoadError",
    "MigrationError",
    "RouteError",
    "StoreError",
    "StranglerError",
    "UpstreamConnectError",
    "UpstreamError",
    "UpstreamTimeout",
    "__version__",
    "load_config",
]

__version__ = "0.1.0"
