"""strangler: finish a gradual rewrite of a legacy HTTP service, one endpoint at a time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from strangler._errors import (
    ConfigError,
    FlipRefused,
    InvalidFlip,
    ListenError,
    LoadError,
    MigrationError,
    RouteError,
    StoreError,
    StranglerError,
    UpstreamConnectError,
    UpstreamError,
    UpstreamTimeout,
    UpstreamTLSError,
)
from strangler._lazy import lazy_package

if TYPE_CHECKING:
    from strangler.config import Config, load_config

__all__ = [
    "Config",
    "ConfigError",
    "FlipRefused",
    "InvalidFlip",
    "ListenError",
    "LoadError",
    "MigrationError",
    "RouteError",
    "StoreError",
    "StranglerError",
    "UpstreamConnectError",
    "UpstreamError",
    "UpstreamTLSError",
    "UpstreamTimeout",
    "__version__",
    "lazy_package",
    "load_config",
]

__version__ = "0.1.0"

# The config models (pydantic) load on first use: `import strangler.cli` stays cheap.
lazy_package(__name__, {"strangler.config": ("Config", "load_config")})
