"""Auth bridging: credentials that cross the seam between legacy and new.

See docs/auth.md. The proxy builds one :class:`AuthBridges` from ``config.auth``; the
shadow caller uses the same one, so a candidate gets the credential it accepts.
"""

from __future__ import annotations

from strangler.auth._bridges import (
    Bridge,
    BridgeFailed,
    ExchangeBridge,
    HookBridge,
    Translation,
    TranslationCache,
    jwt_expiry,
)
from strangler.auth._credential import CredentialSpec, Presented, short_hash, token_hash
from strangler.auth._domains import AuthBridges, Domain, Placement, check_bridges
from strangler.config._auth import covers, routes_of

__all__ = [
    "AuthBridges",
    "Bridge",
    "BridgeFailed",
    "CredentialSpec",
    "Domain",
    "ExchangeBridge",
    "HookBridge",
    "Placement",
    "Presented",
    "Translation",
    "TranslationCache",
    "check_bridges",
    "covers",
    "jwt_expiry",
    "routes_of",
    "short_hash",
    "token_hash",
]
