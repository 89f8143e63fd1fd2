"""Where a credential travels in a request: read it, replace it, name it by a hash (pure).

A credential is the whole value of a header (``Authorization: Bearer abc``) or of one
cookie (``SESSIONID=abc``). Its *token* is the part that identifies it: for a header with
an auth scheme, the part after the scheme (``abc``), else the whole value. Only keyed hashes
of tokens are ever kept, logged or shown; the key is random per process and never stored.

>>> spec = CredentialSpec("header", "authorization")
>>> seen = spec.read([(b"authorization", b"Bearer abc")])
>>> seen.value, seen.token
('Bearer abc', 'abc')
>>> spec.replace([(b"authorization", b"Bearer abc")], "Bearer xyz")
[(b'authorization', b'Bearer xyz')]
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from hashlib import blake2b
from typing import Literal

from strangler._sticky import cookie_value

__all__ = ["CredentialSpec", "Presented", "short_hash", "token_hash"]

RawHeaders = list[tuple[bytes, bytes]]

_KEY = os.urandom(16)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*\s+(\S.*)$")


def token_hash(token: str) -> bytes:
    """A keyed 16-byte hash of a token (the only form in which tokens are remembered)."""
    return blake2b(token.encode("utf-8", "surrogateescape"), key=_KEY, digest_size=16).digest()


def short_hash(digest: bytes) -> str:
    """Eight hex digits naming a token in logs and errors (``cred#1f0a93c2``)."""
    return f"cred#{digest[:4].hex()}"


def token_of(value: str) -> str:
    """The identifying part of a credential value: after the auth scheme, if there is one."""
    match = _SCHEME.match(value)
    return match.group(1).strip() if match else value.strip()


@dataclass(frozen=True, slots=True)
class Presented:
    """A credential found in a request."""

    value: str
    token: str
    digest: bytes

    @property
    def name(self) -> str:
        return short_hash(self.digest)


@dataclass(frozen=True, slots=True)
class CredentialSpec:
    """A header (name lower-case) or a cookie that carries a domain's credential."""

    kind: Literal["header", "cookie"]
    name: str

    def read(self, headers: RawHeaders) -> Presented | None:
        """The credential in ``headers``, or None when the request carries none."""
        value = self._value(headers)
        if not value:
            return None
        token = token_of(value) if self.kind == "header" else value
        return Presented(value, token, token_hash(token))

    def _value(self, headers: RawHeaders) -> str | None:
        if self.kind == "header":
            wanted = self.name.encode("latin-1")
            for name, value in headers:
                if name == wanted:
                    return value.decode("latin-1")
            return None
        for name, value in headers:
            if name == b"cookie":
                found = cookie_value(value.decode("latin-1"), self.name)
                if found is not None:
                    return found
        return None

    def replace(self, headers: RawHeaders, value: str) -> RawHeaders:
        """A copy of ``headers`` carrying ``value`` as this credential instead."""
        if self.kind == "header":
            wanted = self.name.encode("latin-1")
            out, done = [], False
            for name, old in headers:
                if name == wanted:
                    if not done:
                        out.append((name, value.encode("latin-1")))
                        done = True
                    continue  # a repeated credential header would be ambiguous: drop it
                out.append((name, old))
            return out
        return [
            (name, _set_cookie_value(old.decode("latin-1"), self.name, value).encode("latin-1"))
            if name == b"cookie"
            else (name, old)
            for name, old in headers
        ]

    def issued(self, response_headers: RawHeaders) -> list[str]:
        """Tokens a response hands out in ``Set-Cookie`` (cookie credentials only)."""
        if self.kind != "cookie":
            return []
        prefix = self.name + "="
        out = []
        for name, value in response_headers:
            if name == b"set-cookie":
                text = value.decode("latin-1").strip()
                if text.startswith(prefix):
                    token = text[len(prefix) :].split(";", 1)[0].strip().strip('"')
                    if token:
                        out.append(token)
        return out


def _set_cookie_value(header: str, name: str, value: str) -> str:
    parts = []
    for part in header.split(";"):
        key, sep, _ = part.strip().partition("=")
        parts.append(f"{name}={value}" if sep and key == name else part.strip())
    return "; ".join(p for p in parts if p)
