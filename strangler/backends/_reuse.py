"""When a kept-alive connection may carry another request, and when a request may be resent.

Pure rules on an answer's headers and a request's method and headers, used by the HTTP
client's pool (:mod:`strangler.backends._http`):

- an answer says whether its connection stays open: ``Connection: close`` and an HTTP/1.0
  answer without ``Connection: keep-alive`` end it (the parser tells), ``Keep-Alive:
  timeout=N`` bounds how long it may wait idle (a second less than the server keeps it, so
  the next request does not race the server's own close), ``max=0`` ends it;
- a request that failed on a reused connection before any byte of its answer came back may
  be sent again on a fresh connection when resending cannot do anything twice: its method is
  idempotent (RFC 9110, section 9.2.2) or it carries an ``Idempotency-Key`` header (the
  client asked the server to recognise a repeat), and its body is whole in memory.
  A request that was never written (the connection was found closed first) is always resent.
"""

from __future__ import annotations

from strangler.backends._base import RawHeaders

__all__ = ["IDEMPOTENT", "KEEPALIVE", "idle_limit", "may_resend"]

KEEPALIVE = 30.0  # seconds an idle connection is kept when the server does not say
_MARGIN = 1.0  # seconds taken off a server's Keep-Alive timeout
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
_IDEMPOTENCY_KEYS = frozenset({b"idempotency-key", b"x-idempotency-key"})


def idle_limit(headers: RawHeaders, keep_alive: bool) -> float:
    """Seconds the connection of this answer may wait idle for its next request (0: close).

    ``keep_alive`` is the parser's verdict (``Connection`` and the HTTP version).

    >>> idle_limit([(b"keep-alive", b"timeout=5, max=100")], True)
    4.0
    >>> idle_limit([(b"keep-alive", b"timeout=5, max=0")], True)
    0.0
    >>> idle_limit([], False)
    0.0
    """
    if not keep_alive:
        return 0.0
    limit = KEEPALIVE
    for name, value in headers:
        if name != b"keep-alive":
            continue
        for param in value.split(b","):
            key, _, raw = param.partition(b"=")
            key = key.strip().lower()
            try:
                number = int(raw.strip().strip(b'"'))
            except ValueError:
                continue  # a malformed parameter says nothing
            if key == b"timeout":
                limit = min(limit, max(0.0, number - _MARGIN))
            elif key == b"max" and number <= 0:
                limit = 0.0
    return limit


def may_resend(method: str, headers: RawHeaders, *, whole_body: bool) -> bool:
    """Whether a request the upstream may have read can be sent again without harm.

    >>> may_resend("GET", [], whole_body=True)
    True
    >>> may_resend("POST", [], whole_body=True)
    False
    >>> may_resend("POST", [(b"idempotency-key", b"8e03")], whole_body=True)
    True
    >>> may_resend("PUT", [], whole_body=False)
    False
    """
    if not whole_body:
        return False  # a streamed body was consumed by the first attempt
    if method in IDEMPOTENT:
        return True
    return any(name in _IDEMPOTENCY_KEYS for name, _ in headers)
