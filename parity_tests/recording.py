"""Build a corpus from observed traffic: match the route, redact, de-duplicate, sample.

Pure: a :class:`CorpusSampler` is fed ``(request, response)`` pairs from any source (the
store's recorded exchanges, a recording proxy, a HAR file) and keeps at most
``per_route`` of them per route, chosen uniformly at random (reservoir sampling), so a
busy route cannot crowd the others out and an hour of traffic costs constant memory::

    >>> from shadow.exchange import CapturedRequest, CapturedResponse
    >>> sampler = CorpusSampler(lambda method, path: "GET /orgs/{slug}", per_route=2, seed=1)
    >>> for slug in ("a", "b", "a", "c"):
    ...     _ = sampler.offer(CapturedRequest("GET", f"/orgs/{slug}"), CapturedResponse(200))
    >>> sampler.stats.duplicates, len(sampler.entries())
    (1, 2)

Every entry goes through the redactor before it is de-duplicated or kept, so nothing a
sampler holds (and nothing written from it) contains a secret.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from shadow.corpus import CorpusEntry
from shadow.exchange import CapturedRequest, CapturedResponse
from strangler.config import Config
from strangler.routing import RouteTable

__all__ = [
    "RELEVANT_HEADERS",
    "CorpusSampler",
    "Redactor",
    "RouteMatcher",
    "SamplerStats",
    "fingerprint",
    "route_matcher",
]

RouteMatcher = Callable[[str, str], str | None]
Redactor = Callable[[CapturedRequest, CapturedResponse | None], CorpusEntry]

# Request headers that change what a server answers; two requests that differ only in
# other headers (user agent, tracing ids, cookies) are the same corpus entry.
RELEVANT_HEADERS = frozenset({"accept", "accept-language", "content-type", "accept-encoding"})


def fingerprint(request: CapturedRequest, extra_headers: Iterable[str] = ()) -> str:
    """A stable hex digest of what identifies a request: method, path, query, body and the
    headers that change the answer (:data:`RELEVANT_HEADERS` plus ``extra_headers``, e.g.
    the names in the response's ``Vary``).

    >>> fingerprint(CapturedRequest("GET", "/a")) == fingerprint(CapturedRequest("get", "/a"))
    True
    """
    wanted = RELEVANT_HEADERS | {h.strip().lower() for h in extra_headers if h.strip()}
    digest = hashlib.sha256()
    for part in (request.method.upper(), request.path, request.query):
        digest.update(part.encode("utf-8", "surrogateescape"))
        digest.update(b"\x00")
    for name, value in sorted((k, v) for k, v in request.headers if k in wanted):
        digest.update(f"{name}:{value}".encode("utf-8", "surrogateescape"))
        digest.update(b"\x00")
    digest.update(request.body or b"")
    return digest.hexdigest()


def route_matcher(config: Config) -> RouteMatcher:
    """Match requests with the config's route table (the proxy's own matching rules);
    unmatched requests (the catch-all) give None."""
    table = RouteTable.build(config)

    def match(method: str, path: str) -> str | None:
        found = table.match(method.upper(), path)
        return found.route.key if found is not None else None

    return match


def _no_redaction(request: CapturedRequest, response: CapturedResponse | None) -> CorpusEntry:
    return request, response


@dataclass(slots=True)
class SamplerStats:
    """What happened to the offered exchanges."""

    offered: int = 0
    unmatched: int = 0
    duplicates: int = 0
    seen_per_route: dict[str, int] = field(default_factory=dict)

    def kept_per_route(self, per_route: int) -> dict[str, int]:
        return {route: min(seen, per_route) for route, seen in self.seen_per_route.items()}


class CorpusSampler:
    """Keeps up to ``per_route`` distinct, redacted exchanges per route.

    ``match`` names the route of a request (None: unmatched, dropped unless
    ``keep_unmatched``). A request that already carries a route (``request.route``) keeps it
    when ``match`` finds none. ``redact`` runs first, on every exchange.
    """

    def __init__(
        self,
        match: RouteMatcher | None,
        *,
        per_route: int = 200,
        redact: Redactor = _no_redaction,
        seed: int | None = None,
        keep_unmatched: bool = False,
    ) -> None:
        if per_route < 1:
            raise ValueError("per_route must be at least 1")
        self.per_route = per_route
        self.stats = SamplerStats()
        self._match = match
        self._redact = redact
        self._random = random.Random(seed)
        self._keep_unmatched = keep_unmatched
        self._seen: set[str] = set()
        self._reservoirs: dict[str, list[tuple[int, CorpusEntry]]] = {}
        self._order = 0

    def offer(self, request: CapturedRequest, response: CapturedResponse | None) -> bool:
        """Consider one exchange; True when it is (for now) in the sample."""
        self.stats.offered += 1
        route = self._match(request.method, request.path) if self._match else None
        route = route or request.route or None
        if route is None:
            if not self._keep_unmatched:
                self.stats.unmatched += 1
                return False
            route = "*"
        request, response = self._redact(replace(request, route=route), response)
        vary = response.header("vary") if response is not None else None
        key = f"{route}\x00{fingerprint(request, (vary or '').split(','))}"
        if key in self._seen:
            self.stats.duplicates += 1
            return False
        self._seen.add(key)
        seen = self.stats.seen_per_route.get(route, 0) + 1
        self.stats.seen_per_route[route] = seen
        reservoir = self._reservoirs.setdefault(route, [])
        self._order += 1
        item = (self._order, (request, response))
        if len(reservoir) < self.per_route:
            reservoir.append(item)
            return True
        slot = self._random.randrange(seen)  # Algorithm R: keep with probability k/seen
        if slot < self.per_route:
            reservoir[slot] = item
            return True
        return False

    def entries(self) -> list[CorpusEntry]:
        """The sample, grouped by route (sorted) and in arrival order within a route."""
        out: list[CorpusEntry] = []
        for route in sorted(self._reservoirs):
            out.extend(entry for _, entry in sorted(self._reservoirs[route], key=lambda i: i[0]))
        return out
