"""What a failure to reach a remote backend means, said once for every kind of connection.

The HTTP client's pool and the WebSocket sessions both open connections to a backend's
URL; whatever they open them with, the same failures become the same errors::

    with connect_errors("legacy", "GET /orgs/{slug}", "https://billing.internal"):
        async with asyncio.timeout(timeouts.connect):
            await loop.create_connection(...)

- no connection within the ``connect`` timeout: :class:`~strangler.UpstreamTimeout`,
  nothing sent;
- a TLS handshake that failed: :class:`~strangler.UpstreamTLSError`, saying why (the
  certificate, the name, the client certificate) and which settings to look at;
- any other socket error (refused, unreachable, no such host):
  :class:`~strangler.UpstreamConnectError` with the system's reason.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager

from strangler._errors import UpstreamConnectError, UpstreamTimeout, UpstreamTLSError
from strangler._tls import handshake_problem

__all__ = ["connect_errors", "tls_failed"]


def tls_failed(
    backend: str, route: str, exc: ssl.SSLError, *, request_sent: bool | None = None
) -> UpstreamTLSError:
    """The error for a TLS handshake with ``backend`` that failed with ``exc``."""
    return UpstreamTLSError(
        backend, route, handshake_problem(exc, backend=backend), request_sent=request_sent
    )


@contextmanager
def connect_errors(backend: str, route: str, base: str) -> Iterator[None]:
    """Translate what opening a connection to ``base`` (the backend's URL) raises."""
    try:
        yield
    except TimeoutError:
        raise UpstreamTimeout(backend, route, "connect timeout", request_sent=False) from None
    except ssl.SSLError as exc:  # before OSError: it is one
        raise tls_failed(backend, route, exc) from exc
    except OSError as exc:
        raise UpstreamConnectError(
            backend, route, f"cannot connect to {base} ({exc.strerror or exc})"
        ) from exc
