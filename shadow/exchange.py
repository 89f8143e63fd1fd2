"""Plain values passed between the proxy, the shadow runner, the comparison and the store.

No I/O here. Headers are kept as ordered lists of ``(name, value)`` text pairs so that
repeated headers (two ``Set-Cookie``) stay apart; names are lower-case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["SAFE_METHODS", "CapturedRequest", "CapturedResponse", "Exchange", "Headers", "Side"]

Side = Literal["legacy", "new"]
"""The two implementations of the API (``new_sandbox`` is a backend of the new side)."""

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
"""Methods that change nothing (RFC 9110 §9.2.1): replayed and shadowed freely."""

Headers = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class CapturedRequest:
    """A request as the proxy received it (body ``None`` when it was over the buffer cap)."""

    method: str
    path: str
    query: str = ""
    headers: Headers = ()
    body: bytes | None = b""
    route: str = ""
    sticky_key: str | None = None

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)


@dataclass(frozen=True, slots=True)
class CapturedResponse:
    """A response with its body (``None`` when over the buffer cap) and how long it took."""

    status: int
    headers: Headers = ()
    body: bytes | None = b""
    elapsed_ms: float = 0.0
    error: str | None = None  # set when the backend gave no answer (connect error, timeout)

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request with the answers it got: primary, candidate and, for noise, a second primary."""

    request: CapturedRequest
    primary_side: Side
    primary: CapturedResponse
    candidate: CapturedResponse | None = None
    second_primary: CapturedResponse | None = None
    notes: tuple[str, ...] = field(default=())
