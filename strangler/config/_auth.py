"""Auth domains: which routes share a credential, and how it crosses from one side to the other.

::

    auth:
      domains:
        - name: users
          routes: ["GET /api/me", "* /api/account/{rest:path}"]
          credential: header:Authorization      # or cookie:SESSIONID
          to_new: {hook: "bridge:legacy_to_new"}  # or {exchange: {url: ...}} or pin
          to_legacy: {hook: "bridge:new_to_legacy"}

A bridge is given per direction: ``to_new`` maps a credential legacy issued to one new
accepts (used when a canary, ``new`` or a shadow call sends it to new), ``to_legacy`` the
reverse (a rollback, a reverse shadow). See docs/auth.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

from pydantic import Field, field_validator, model_validator

from strangler.config._base import Frozen

__all__ = [
    "AuthDomain",
    "AuthSettings",
    "BridgeSpec",
    "ExchangeBridgeSpec",
    "ExchangeSettings",
    "HookBridgeSpec",
    "TranslationCache",
    "covers",
    "routes_of",
]

_IMPORT_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
_CREDENTIAL = re.compile(r"^(header|cookie):([!#$%&'*+.^_`|~0-9A-Za-z-]+)$")


class HookBridgeSpec(Frozen):
    """A Python callable ``module:function`` mapping one credential value to the other."""

    hook: str = Field(
        description="'module:function'; gets the credential value, returns the new one"
    )

    @field_validator("hook")
    @classmethod
    def _check_hook(cls, value: str) -> str:
        if not _IMPORT_PATH.match(value):
            raise ValueError("an import path 'module:function', e.g. 'bridge:legacy_to_new'")
        return value


class ExchangeSettings(Frozen):
    """A token-exchange endpoint (in the spirit of RFC 8693) on either side."""

    url: str = Field(description="the exchange endpoint, http:// or https://")
    secret_env: str | None = Field(
        None, description="env var holding the client secret sent as a Bearer token"
    )
    timeout: float = Field(5.0, gt=0, le=300, description="seconds an exchange may take")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("an http:// or https:// URL with a host")
        return value


class ExchangeBridgeSpec(Frozen):
    """Present the credential to an exchange endpoint and forward what it returns."""

    exchange: ExchangeSettings = Field(description="where and how to exchange")


BridgeSpec = HookBridgeSpec | ExchangeBridgeSpec | Literal["pin"]


class TranslationCache(Frozen):
    """How long translated credentials are kept in memory (keyed by a hash, never the value)."""

    ttl: float = Field(300.0, gt=0, le=86_400, description="seconds a translation is reused")
    max_entries: int = Field(10_000, ge=1, le=10_000_000, description="translations kept")


class AuthDomain(Frozen):
    """Routes that share one credential, and the bridges between the sides."""

    name: str = Field(description="a short name used in metrics, blockers and logs")
    routes: tuple[str, ...] = Field(
        description="route patterns of this domain, as in routes: ('* /api/account/{rest:path}')"
    )
    credential: str = Field(
        description="where the credential travels: 'header:Authorization' or 'cookie:SESSIONID'"
    )
    to_new: BridgeSpec | None = Field(
        None, description="legacy -> new: {hook: ...}, {exchange: {url: ...}} or pin"
    )
    to_legacy: BridgeSpec | None = Field(
        None,
        description="new -> legacy (rollback, reverse shadow): {hook: ...}, {exchange: ...} or pin",
    )
    unknown_issuer: Literal["legacy", "new"] = Field(
        "legacy", description="the side presumed to have issued a credential never seen issued"
    )
    cohort_cookie: str = Field(
        "strangler_cohort",
        description="cookie the proxy sets to keep a client without a credential on one side",
    )

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z0-9_.-]{1,64}$", value):
            raise ValueError("1 to 64 letters, digits, '_', '.' or '-'")
        return value

    @field_validator("credential")
    @classmethod
    def _check_credential(cls, value: str) -> str:
        match = _CREDENTIAL.match(value.strip())
        if match is None:
            raise ValueError("'header:NAME' or 'cookie:NAME', e.g. 'header:Authorization'")
        kind, name = match.groups()
        return f"{kind}:{name.lower() if kind == 'header' else name}"

    @field_validator("routes")
    @classmethod
    def _check_routes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # Each pattern is checked against the declared routes by the Config (it knows them).
        if not value:
            raise ValueError("at least one route pattern")
        return value

    @property
    def credential_kind(self) -> Literal["header", "cookie"]:
        return "header" if self.credential.startswith("header:") else "cookie"

    @property
    def credential_name(self) -> str:
        return self.credential.split(":", 1)[1]


class AuthSettings(Frozen):
    """``auth:``: the domains whose credentials the proxy bridges (none by default)."""

    domains: tuple[AuthDomain, ...] = Field(default=(), description="auth domains")
    cache: TranslationCache = TranslationCache()

    def domain_of(self, route: str) -> tuple[int, AuthDomain] | None:
        """The domain (and its index) whose patterns cover the declared route ``route``."""
        for i, domain in enumerate(self.domains):
            if any(covers(p, route) for p in domain.routes):
                return i, domain
        return None

    @model_validator(mode="after")
    def _unique_names(self) -> AuthSettings:
        seen: set[str] = set()
        for domain in self.domains:
            if domain.name in seen:
                raise ValueError(f"domain name {domain.name!r} is used twice")
            seen.add(domain.name)
        return self


def _path_regex(template: str) -> re.Pattern[str]:
    parts = []
    for segment in template.split("/")[1:]:
        if segment.startswith("{") and segment.endswith(":path}"):
            parts.append(r"/.+")  # the rest: one segment or more
        elif segment.startswith("{") and segment.endswith("}"):
            parts.append(r"/[^/]+")
        else:
            parts.append("/" + re.escape(segment))
    return re.compile("^" + "".join(parts) + "$")


def covers(pattern: str, route: str) -> bool:
    """Whether the pattern ``"METHODS /template"`` covers the declared route ``route``.

    ``{name}`` in the pattern stands for one segment of the route's template (literal or a
    parameter), ``{name:path}`` for one or more; ``*`` for any method::

        >>> covers("* /api/account/{rest:path}", "GET,HEAD /api/account/{id}/settings")
        True
        >>> covers("POST /api/me", "GET /api/me")
        False
    """
    p_methods, p_path = pattern.split(" ", 1)
    r_methods, r_path = route.split(" ", 1)
    methods = set(p_methods.split(","))
    if (
        "*" not in methods
        and "*" not in r_methods.split(",")
        and not methods & set(r_methods.split(","))
    ):
        return False
    return _path_regex(p_path).match(r_path) is not None


def routes_of(patterns: Iterable[str], routes: Iterable[str]) -> list[str]:
    """The routes (in their order) that at least one of ``patterns`` covers."""
    compiled = list(patterns)
    return [r for r in routes if any(covers(p, r) for p in compiled)]
