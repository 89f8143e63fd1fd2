"""Bridges: turn a credential one side issued into one the other side accepts.

- :class:`HookBridge`: a Python callable ``module:function`` (sync or async) that gets the
  credential's value and returns the value to send instead (or ``(value, expires_in)``);
- :class:`ExchangeBridge`: a POST to a token-exchange endpoint in the spirit of RFC 8693
  (``grant_type=urn:ietf:params:oauth:grant-type:token-exchange``, ``subject_token``); the
  answer's ``access_token`` (and ``expires_in``) is forwarded in the form of the original.

Both are wrapped in a :class:`TranslationCache`: bounded, keyed by the token's hash, and an
entry lives for the configured TTL or until the translated credential expires, whichever is
first. A failure raises :class:`BridgeFailed` (a clean, counted error; never a silent 401).
"""

from __future__ import annotations

import asyncio
import base64
import inspect
import os
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import orjson

from strangler.auth._credential import Presented, token_of

__all__ = [
    "Bridge",
    "BridgeFailed",
    "ExchangeBridge",
    "HookBridge",
    "Translation",
    "TranslationCache",
    "jwt_expiry",
]


class BridgeFailed(Exception):
    """A credential could not be translated; ``reason`` says why (never the credential)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Translation:
    """A translated credential value and when it stops being valid (``time.monotonic``)."""

    value: str
    expires_at: float | None = None


class Bridge(Protocol):
    """Translate one credential (the whole header or cookie value) for the other side."""

    async def translate(self, presented: Presented) -> Translation: ...

    async def aclose(self) -> None: ...


def jwt_expiry(value: str) -> float | None:
    """Seconds until the ``exp`` claim of a JWT in ``value`` (unverified), or None."""
    parts = token_of(value).split(".")
    if len(parts) != 3:
        return None
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        exp = payload.get("exp") if isinstance(payload, dict) else None
    except (ValueError, orjson.JSONDecodeError):
        return None
    if not isinstance(exp, int | float):
        return None
    return float(exp) - time.time()


def _expiry(value: str, expires_in: float | None) -> float | None:
    left = [s for s in (expires_in, jwt_expiry(value)) if s is not None]
    return time.monotonic() + min(left) if left else None


class HookBridge:
    """A callable ``hook(value) -> value | (value, expires_in)``, sync or async."""

    def __init__(self, hook: Callable[[str], Any]) -> None:
        self._hook = hook

    async def translate(self, presented: Presented) -> Translation:
        try:
            out = self._hook(presented.value)
            if inspect.isawaitable(out):
                out = await out
        except Exception as exc:
            raise BridgeFailed(f"the hook raised {type(exc).__name__}") from None
        expires_in: float | None = None
        if isinstance(out, tuple) and len(out) == 2:
            out, expires_in = out
        if not isinstance(out, str) or not out:
            raise BridgeFailed(f"the hook returned {type(out).__name__}, not a credential")
        return Translation(out, _expiry(out, expires_in))

    async def aclose(self) -> None:
        return None


class ExchangeBridge:
    """POST the credential's token to an exchange endpoint; forward its ``access_token``."""

    GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"

    def __init__(self, url: str, *, secret_env: str | None, timeout: float, direction: str):
        self._url = url
        self._secret_env = secret_env
        self._direction = direction
        self._client = httpx.AsyncClient(timeout=timeout, trust_env=False)

    async def translate(self, presented: Presented) -> Translation:
        headers = {"accept": "application/json"}
        if self._secret_env:
            secret = os.environ.get(self._secret_env)
            if not secret:
                raise BridgeFailed(f"${self._secret_env} (the exchange's secret) is not set")
            headers["authorization"] = f"Bearer {secret}"
        form = {
            "grant_type": self.GRANT,
            "subject_token": presented.token,
            "subject_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "audience": self._direction.removeprefix("to_"),
        }
        try:
            resp = await self._client.post(self._url, data=form, headers=headers)
        except httpx.HTTPError as exc:
            raise BridgeFailed(f"exchange at {self._url} failed: {type(exc).__name__}") from None
        if resp.status_code != 200:
            raise BridgeFailed(f"exchange at {self._url} answered {resp.status_code}")
        try:
            data = resp.json()
            token = data["access_token"]
        except (ValueError, KeyError, TypeError):
            raise BridgeFailed(f"exchange at {self._url} gave no access_token") from None
        if not isinstance(token, str) or not token:
            raise BridgeFailed(f"exchange at {self._url} gave no access_token")
        expires_in = data.get("expires_in")
        expires = float(expires_in) if isinstance(expires_in, int | float) else None
        # Forwarded in the form the client used: the same auth scheme, a new token.
        value = presented.value[: len(presented.value) - len(presented.token)] + token
        return Translation(value, _expiry(value, expires))

    async def aclose(self) -> None:
        await self._client.aclose()


class TranslationCache:
    """Translations by token hash: at most ``max_entries``, each for ``ttl`` seconds or until
    the translated credential expires. Concurrent misses for one token share one call."""

    def __init__(self, bridge: Bridge, *, ttl: float, max_entries: int) -> None:
        self.bridge = bridge
        self._ttl = ttl
        self._max = max_entries
        self._entries: OrderedDict[bytes, Translation] = OrderedDict()
        self._pending: dict[bytes, Awaitable[Translation]] = {}
        self.calls = 0

    def cached(self, presented: Presented) -> str | None:
        """The translated value if it is cached and fresh (no await: the hot path)."""
        entry = self._entries.get(presented.digest)
        if entry is None:
            return None
        if entry.expires_at is not None and entry.expires_at <= time.monotonic():
            del self._entries[presented.digest]
            return None
        self._entries.move_to_end(presented.digest)
        return entry.value

    async def translate(self, presented: Presented) -> str:
        """The translated value, from the cache or from one call to the bridge."""
        hit = self.cached(presented)
        if hit is not None:
            return hit
        pending = self._pending.get(presented.digest)
        if pending is None:
            pending = asyncio.ensure_future(self._call(presented))
            self._pending[presented.digest] = pending
        try:
            return (await pending).value
        finally:
            self._pending.pop(presented.digest, None)

    async def _call(self, presented: Presented) -> Translation:
        self.calls += 1
        got = await self.bridge.translate(presented)
        cap = time.monotonic() + self._ttl
        expires = cap if got.expires_at is None else min(cap, got.expires_at)
        self._entries[presented.digest] = Translation(got.value, expires)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)
        return got
