"""Sticky buckets: a key always lands in the same bucket of a route.

The bucket is a hash of ``"route-key:sticky-key"``, so the same user lands on different
buckets for different routes (one route's canary does not always pick the same users),
and raising a route's percent only adds buckets: a key that was in at 5% stays in at 10%.

>>> bucket_of("GET /a", "user-1", 10_000) == bucket_of("GET /a", "user-1", 10_000)
True
"""

from __future__ import annotations

from hashlib import blake2b

__all__ = ["bucket_of", "cookie_value"]


def bucket_of(route_key: str, key: str, buckets: int) -> int:
    """The bucket (0 to ``buckets - 1``) of ``key`` for the route ``route_key``."""
    digest = blake2b(f"{route_key}:{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % buckets


def cookie_value(header: str, name: str) -> str | None:
    """The value of cookie ``name`` in a ``Cookie`` request header, or None.

    >>> cookie_value("a=1; uid=42", "uid")
    '42'
    """
    for part in header.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value.strip('"')
    return None
