"""Auth domains at run time: who issued a credential, where it may go, and in what form.

:class:`AuthBridges` is built once per proxy from ``config.auth``. For a route of a domain
the proxy asks it three things:

- :meth:`Domain.cohort_key`: the sticky key of a canary, the same for every route of the
  domain (the cohort cookie the proxy set, else the credential, else a new cohort);
- :meth:`Domain.place`: given the side the route's mode chose, the side that serves the
  request and the headers to send it with (the credential translated by the bridge towards
  that side, or the request pinned to the side that issued its credential);
- :meth:`Domain.learn`: which side issued the credentials a response hands out (a
  ``Set-Cookie`` of the credential cookie, or a token in a JSON login answer).

Credentials are remembered only as keyed hashes, in a bounded table.
"""

from __future__ import annotations

import os
import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from prometheus_client import CollectorRegistry, Counter

from strangler._errors import ConfigError
from strangler._sticky import cookie_value
from strangler.auth._bridges import (
    Bridge,
    BridgeFailed,
    ExchangeBridge,
    HookBridge,
    TranslationCache,
)
from strangler.auth._credential import CredentialSpec, Presented, token_hash
from strangler.backends import load_app
from strangler.config import (
    AuthDomain,
    Config,
    ExchangeBridgeSpec,
    HookBridgeSpec,
)
from strangler.config._auth import routes_of
from strangler.routing import Decision

__all__ = ["AuthBridges", "Domain", "Placement"]

RawHeaders = list[tuple[bytes, bytes]]
SideName = Literal["legacy", "new"]
_OTHER: dict[str, SideName] = {"legacy": "new", "new": "legacy", "new_sandbox": "legacy"}
_TOKEN_KEYS = ("token", "jwt", "session")
_LEARN_CAP = 64 << 10


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a request goes and with which headers (``headers`` None: unchanged)."""

    decision: Decision
    headers: RawHeaders | None = None
    outcome: str = "same_side"


class Domain:
    """One auth domain of a running proxy."""

    def __init__(
        self,
        spec: AuthDomain,
        bridges: Mapping[str, TranslationCache | Literal["pin"] | None],
        *,
        max_entries: int,
        counter: Counter,
    ) -> None:
        self.name = spec.name
        self.spec = spec
        self.credential = CredentialSpec(spec.credential_kind, spec.credential_name)
        self._bridges = bridges
        self._unknown: SideName = spec.unknown_issuer
        self._issuers: OrderedDict[bytes, SideName] = OrderedDict()
        self._max = max_entries
        self._counter = counter
        self.cookie = spec.cohort_cookie
        self.bucket_scope = f"auth:{spec.name}"
        self.learns_from_body = spec.credential_kind == "header"

    # -- who issued what --------------------------------------------------------------------

    def issuer(self, presented: Presented) -> SideName:
        """The side that issued ``presented`` (``unknown_issuer`` when never seen issued)."""
        return self._issuers.get(presented.digest, self._unknown)

    def remember(self, token: str, side: str) -> None:
        issuer: SideName = "legacy" if side == "legacy" else "new"
        digest = token_hash(token)
        self._issuers[digest] = issuer
        self._issuers.move_to_end(digest)
        while len(self._issuers) > self._max:
            self._issuers.popitem(last=False)

    def learn(self, side: str, headers: RawHeaders, body: bytes | None = None) -> None:
        """Remember the credentials a response from ``side`` hands out."""
        for token in self.credential.issued(headers):
            self.remember(token, side)
        if body and self.learns_from_body and len(body) <= _LEARN_CAP:
            try:
                data = orjson.loads(body)
            except orjson.JSONDecodeError:
                return
            for token in _tokens_in(data):
                self.remember(token, side)

    # -- where a request goes -----------------------------------------------------------------

    def cohort_key(
        self, headers: RawHeaders, presented: Presented | None
    ) -> tuple[str, str | None]:
        """The canary sticky key and, when the client has no cohort yet, the cookie to set."""
        for name, value in headers:
            if name == b"cookie":
                from_cookie = cookie_value(value.decode("latin-1"), self.cookie)
                if from_cookie:
                    return from_cookie, None
        if presented is not None:
            return presented.digest.hex(), None
        fresh = secrets.token_urlsafe(12)
        return fresh, f"{self.cookie}={fresh}; Path=/; HttpOnly; SameSite=Lax"

    def bridge_towards(self, side: str) -> TranslationCache | Literal["pin"] | None:
        return self._bridges.get("to_legacy" if side == "legacy" else "to_new")

    async def place(
        self, decision: Decision, mode: str, presented: Presented, headers: RawHeaders
    ) -> Placement:
        """Where a request carrying ``presented`` goes, given the side its mode chose.

        Raises :class:`BridgeFailed` when the credential must be translated and cannot be,
        and the request may not fall back to legacy.
        """
        issuer = self.issuer(presented)
        target = decision.primary
        if issuer == target:
            return Placement(decision)
        bridge = self.bridge_towards(target)
        if bridge == "pin":
            if mode == "retired":
                return self._count(Placement(decision, outcome="unbridged"))
            shadow = _OTHER[issuer] if decision.shadow is not None else None
            return self._count(Placement(Decision(issuer, shadow), outcome="pinned"))
        if bridge is None:
            return self._count(Placement(decision, outcome="unbridged"))
        try:
            value = bridge.cached(presented)
            outcome = "cached"
            if value is None:
                value = await bridge.translate(presented)
                outcome = "translated"
        except BridgeFailed:
            if target == "new" and decision.fallback:
                self._count(Placement(decision, outcome="failed"))
                shadow = "new" if decision.shadow is not None else None
                return self._count(Placement(Decision("legacy", shadow), outcome="fell_back"))
            self._count(Placement(decision, outcome="failed"))
            raise
        return self._count(
            Placement(decision, self.credential.replace(headers, value), outcome=outcome)
        )

    async def headers_for(self, side: str, headers: RawHeaders) -> RawHeaders:
        """``headers`` for a shadow call to ``side``: the credential translated if needed.

        Raises :class:`BridgeFailed` when a bridge exists and fails.
        """
        presented = self.credential.read(headers)
        if presented is None:
            return headers
        target: SideName = "legacy" if side == "legacy" else "new"
        if self.issuer(presented) == target:
            return headers
        bridge = self.bridge_towards(target)
        if bridge is None or bridge == "pin":
            return headers  # the candidate answers as it would: an `auth` difference
        value = bridge.cached(presented) or await bridge.translate(presented)
        return self.credential.replace(headers, value)

    def _count(self, placement: Placement) -> Placement:
        if placement.outcome not in ("same_side", "cached"):
            self._counter.labels(self.name, placement.outcome).inc()
        return placement


def _tokens_in(data: Any, depth: int = 0) -> Iterator[str]:
    """String values under token-like keys (``token``, ``access_token``, ``jwt``...)."""
    if depth > 6:
        return
    if isinstance(data, dict):
        for key, value in data.items():
            if (
                isinstance(value, str)
                and len(value) >= 8
                and any(k in str(key).lower() for k in _TOKEN_KEYS)
            ):
                yield value
            elif isinstance(value, dict | list):
                yield from _tokens_in(value, depth + 1)
    elif isinstance(data, list):
        for item in data[:50]:
            yield from _tokens_in(item, depth + 1)


class AuthBridges:
    """The auth domains of one proxy, by route key."""

    def __init__(self, config: Config, registry: CollectorRegistry | None = None) -> None:
        self._by_route: dict[str, Domain] = {}
        self.domains: list[Domain] = []
        self._caches: list[TranslationCache] = []
        counter = Counter(
            "strangler_auth_bridge",
            "Requests of an auth domain whose credential crossed sides, by outcome",
            ["domain", "outcome"],
            registry=registry,
        )
        declared = [r.key for r in config.routes]
        settings = config.auth
        for i, spec in enumerate(settings.domains):
            bridges: dict[str, TranslationCache | Literal["pin"] | None] = {}
            for direction in ("to_new", "to_legacy"):
                given = getattr(spec, direction)
                key = f"auth.domains[{i}].{direction}"
                bridge = _build(given, key, config.source, direction)
                if bridge is None or bridge == "pin":
                    bridges[direction] = bridge
                else:
                    cache = TranslationCache(
                        bridge, ttl=settings.cache.ttl, max_entries=settings.cache.max_entries
                    )
                    self._caches.append(cache)
                    bridges[direction] = cache
            domain = Domain(spec, bridges, max_entries=settings.cache.max_entries, counter=counter)
            self.domains.append(domain)
            for route in routes_of(spec.routes, declared):
                self._by_route[route] = domain

    def __bool__(self) -> bool:
        return bool(self._by_route)

    def domain_for(self, route: str) -> Domain | None:
        return self._by_route.get(route)

    async def aclose(self) -> None:
        for cache in self._caches:
            await cache.bridge.aclose()


def check_bridges(config: Config) -> None:
    """Import every hook and check every exchange secret that ``config.auth`` names, as the
    proxy will at start (``strangler check`` runs this): a :class:`ConfigError` names the key."""
    for i, spec in enumerate(config.auth.domains):
        for direction in ("to_new", "to_legacy"):
            _checked(getattr(spec, direction), f"auth.domains[{i}].{direction}", config.source)


def _checked(given: object, key: str, file: str | None) -> Callable[..., Any] | None:
    """The hook a bridge names (imported), after checking what an exchange needs."""
    if isinstance(given, HookBridgeSpec):
        try:
            hook: Callable[..., Any] = load_app(
                given.hook, key=f"{key}.hook", file=file, what=_HOOK
            )
            return hook
        except ConfigError:
            raise
        except Exception as exc:  # the user's module raised while it was imported
            raise ConfigError(
                f"{key}.hook",
                given.hook,
                f"a module that imports ({type(exc).__name__}: {str(exc)[:200]})",
                file=file,
            ) from None
    if isinstance(given, ExchangeBridgeSpec):
        spec = given.exchange
        if spec.secret_env and not os.environ.get(spec.secret_env):
            raise ConfigError(
                f"{key}.exchange.secret_env",
                spec.secret_env,
                "an environment variable that is set (the exchange's client secret)",
                file=file,
            )
    return None


_HOOK = "a callable hook(credential)"


def _build(
    given: HookBridgeSpec | ExchangeBridgeSpec | str | None,
    key: str,
    file: str | None,
    direction: str,
) -> Bridge | Literal["pin"] | None:
    if given is None:
        return None
    if given == "pin":
        return "pin"
    hook = _checked(given, key, file)
    if hook is not None:
        return HookBridge(hook)
    if isinstance(given, ExchangeBridgeSpec):
        spec = given.exchange
        return ExchangeBridge(
            spec.url, secret_env=spec.secret_env, timeout=spec.timeout, direction=direction
        )
    raise ConfigError(key, str(given), "{hook: ...}, {exchange: {url: ...}} or pin", file=file)
