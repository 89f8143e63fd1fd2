"""The one error tree of strangler.

::

    StranglerError
     ├── ConfigError          a config file or value is wrong (.file, .key, .value, .expected)
     ├── RouteError           a route named on the command line does not exist (.route)
     ├── UpstreamError        a backend could not answer (.backend, .route)
     │    ├── UpstreamConnectError
     │    │    └── UpstreamTLSError
     │    └── UpstreamTimeout
     ├── StoreError           the store could not be read or written (.url)
     ├── FlipRefused          a flip was refused by its gates (.route, .blockers)
     ├── InvalidFlip          a flip asked for is malformed or changes nothing (.route, .detail)
     ├── MigrationError       a data migration could not run (.mapping)
     ├── LoadError            a load test could not run or finish (.target)
     └── ListenError          serve cannot listen on its address (.host, .port, .in_use)

Third-party exceptions are translated at the boundary (``raise ... from exc``); none
leaks through the public API.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class StranglerError(Exception):
    """Root of every error strangler raises on purpose."""


class ConfigError(StranglerError):
    """A configuration problem, naming the file, the key path, the value and what was expected.

    >>> str(ConfigError("routes[0].percent", 150, "a number from 0 to 100", file="s.yaml"))
    's.yaml: routes[0].percent: got 150, expected a number from 0 to 100'
    """

    def __init__(
        self,
        key: str,
        value: Any,
        expected: str,
        *,
        file: str | None = None,
        problems: Sequence[ConfigError] = (),
    ) -> None:
        self.key = key
        self.value = value
        self.expected = expected
        self.file = file
        self.problems: tuple[ConfigError, ...] = tuple(problems) or (self,)
        super().__init__(self._render())

    def _render(self) -> str:
        if len(self.problems) > 1 or self.problems[0] is not self:
            return "\n".join(p._render_one() for p in self.problems)
        return self._render_one()

    def _render_one(self) -> str:
        prefix = f"{self.file}: " if self.file else ""
        where = f"{self.key}: " if self.key else ""
        return f"{prefix}{where}got {self.value!r}, expected {self.expected}"


class RouteError(StranglerError):
    """A route named by the user is not in the config."""

    def __init__(self, route: str, known: Sequence[str] = ()) -> None:
        self.route = route
        self.known = tuple(known)
        hint = f"; known routes: {', '.join(self.known)}" if self.known else ""
        super().__init__(f"no route {route!r} in the config{hint}")


class UpstreamError(StranglerError):
    """A backend did not give an answer.

    ``request_sent`` is False when no byte of the request can have reached the backend
    (so even a POST may be replayed elsewhere); ``kind`` names the failure for metrics
    and error bodies.
    """

    status_code = 502
    kind = "upstream_error"  # also the ``error`` field of the proxy's JSON answer
    request_sent_default = True
    #: Whether the proxy's error answer carries ``detail`` (it may name internal hosts, so
    #: only where the client needs it to tell a misconfiguration from an outage).
    detail_in_answer = False

    def __init__(
        self, backend: str, route: str, detail: str, *, request_sent: bool | None = None
    ) -> None:
        self.backend = backend
        self.route = route
        self.detail = detail
        self.request_sent = self.request_sent_default if request_sent is None else request_sent
        super().__init__(f"backend {backend!r} failed for route {route!r}: {detail}")


class UpstreamConnectError(UpstreamError):
    """The backend could not be reached (no byte of the request was sent)."""

    status_code = 502
    kind = "upstream_connect_error"
    request_sent_default = False


class UpstreamTLSError(UpstreamConnectError):
    """The TLS handshake with the backend failed (unknown CA, host name mismatch, client
    certificate refused); ``detail`` says which, and the proxy's answer carries it."""

    kind = "upstream_tls_error"
    detail_in_answer = True


class UpstreamTimeout(UpstreamError):
    """The backend did not answer within its timeout (a connect timeout sent nothing)."""

    status_code = 504
    kind = "upstream_timeout"


class StoreError(StranglerError):
    """The store could not be read or written."""

    def __init__(self, url: str, detail: str) -> None:
        self.url = url
        self.detail = detail
        super().__init__(f"store {url}: {detail}")


class FlipRefused(StranglerError):
    """A flip was refused because the route is not ready; ``blockers`` says why."""

    def __init__(self, route: str, blockers: Sequence[str]) -> None:
        self.route = route
        self.blockers = tuple(blockers)
        lines = "\n".join(f"  - {b}" for b in self.blockers)
        super().__init__(
            f"flip of {route!r} refused, the route is not ready:\n{lines}\n"
            "use --force --reason '...' to override (the audit log records it)"
        )


class InvalidFlip(StranglerError):
    """A flip request is malformed (bad mode or percent, no reason) or changes nothing.

    >>> str(InvalidFlip("GET /a", "mode canary needs --percent"))
    "cannot flip 'GET /a': mode canary needs --percent"
    """

    def __init__(self, route: str, detail: str) -> None:
        self.route = route
        self.detail = detail
        super().__init__(f"cannot flip {route!r}: {detail}")


class MigrationError(StranglerError):
    """A data migration (backfill, verify, contract) could not run."""

    def __init__(self, mapping: str, detail: str) -> None:
        self.mapping = mapping
        self.detail = detail
        super().__init__(f"mapping {mapping!r}: {detail}")


class LoadError(StranglerError):
    """A load test could not run or did not finish (``.target``: legacy, new or proxy)."""

    def __init__(self, target: str, detail: str) -> None:
        self.target = target
        self.detail = detail
        super().__init__(f"load test against {target!r}: {detail}")


class ListenError(StranglerError):
    """``strangler serve`` cannot listen on its address (``.host``, ``.port``; ``.in_use``
    when another process holds it): refused before anything starts."""

    def __init__(self, host: str, port: int, detail: str, *, in_use: bool) -> None:
        self.host = host
        self.port = port
        self.detail = detail
        self.in_use = in_use
        advice = (
            "another process uses it; stop it, or choose another --port/--host"
            if in_use
            else "choose another --host/--port"
        )
        super().__init__(f"cannot listen on {host}:{port} ({detail}): {advice}")
