"""Load and validate the YAML config into frozen, typed values.

One load step turns YAML into immutable objects; every problem names the file, the key
path, the bad value and what was expected::

    >>> cfg = load_config("strangler.yaml")          # doctest: +SKIP
    >>> cfg.routes[0].key
    'GET /orgs/{slug}'
"""

from __future__ import annotations

from strangler.config._model import (
    METHODS,
    MODES,
    SAFE_METHODS,
    AdminSettings,
    AuthDomain,
    AuthSettings,
    BackendConfig,
    Config,
    DatabaseSettings,
    ExchangeBridgeSpec,
    HookBridgeSpec,
    LoadSettings,
    Mode,
    PathSettings,
    ProxySettings,
    ReadinessSettings,
    ReadinessThresholds,
    RollbackSettings,
    RouteConfig,
    ShadowSettings,
    StickyKey,
    Timeouts,
    TLSConfig,
    canonical_route,
    config_schema,
    duration_option,
    load_config,
    parse_config,
    parse_duration,
)

__all__ = [
    "METHODS",
    "MODES",
    "SAFE_METHODS",
    "AdminSettings",
    "AuthDomain",
    "AuthSettings",
    "BackendConfig",
    "Config",
    "DatabaseSettings",
    "ExchangeBridgeSpec",
    "HookBridgeSpec",
    "LoadSettings",
    "Mode",
    "PathSettings",
    "ProxySettings",
    "ReadinessSettings",
    "ReadinessThresholds",
    "RollbackSettings",
    "RouteConfig",
    "ShadowSettings",
    "StickyKey",
    "TLSConfig",
    "Timeouts",
    "canonical_route",
    "config_schema",
    "duration_option",
    "load_config",
    "parse_config",
    "parse_duration",
]
