"""Load scenarios: which requests a simulated user sends, and in what mix.

A scenario is plain data: per route, a weight (its share of the traffic) and the concrete
requests to pick from. It is built either from a recorded corpus (the mix observed in real
traffic) or from the route table with the example parameters of the config::

    routes:
      - route: GET /orgs/{slug}
        examples: {slug: [acme, hope]}
        weight: 3          # three times the traffic of a route with weight 1

Write methods (POST, PUT, PATCH, DELETE) are left out unless the route says
``load_writes: true``: a load test against a real legacy must not take payments.

    >>> scenario = from_routes(config)            # doctest: +SKIP
    >>> scenario.shares()
    {'GET /orgs/{slug}': 0.75, 'GET /health': 0.25}
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from shadow.corpus import CorpusEntry
from strangler import ConfigError, LoadError
from strangler.config import SAFE_METHODS, Config, RouteConfig, canonical_route
from strangler.routing import CATCH_ALL

__all__ = [
    "LoadRequest",
    "RouteLoad",
    "Scenario",
    "from_corpus",
    "from_routes",
]

MAX_REQUESTS_PER_ROUTE = 1000
# Headers that belong to one connection or that the load generator sets itself.
_DROPPED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "upgrade",
        "proxy-connection",
        "trailer",
    }
)


@dataclass(frozen=True, slots=True)
class LoadRequest:
    """One concrete request a simulated user may send."""

    method: str
    path: str
    query: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    @property
    def url(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path


@dataclass(frozen=True, slots=True)
class RouteLoad:
    """A route's share of the load and the requests that stand for it."""

    route: str
    weight: float
    requests: tuple[LoadRequest, ...]


@dataclass(frozen=True, slots=True)
class Scenario:
    """The whole mix. ``notes`` says what was left out and why."""

    routes: tuple[RouteLoad, ...]
    source: str = "routes"
    notes: tuple[str, ...] = ()

    def shares(self) -> dict[str, float]:
        """Each route's expected share of the requests (sums to 1)."""
        total = sum(r.weight for r in self.routes) or 1.0
        return {r.route: r.weight / total for r in self.routes}

    def only(self, route: str) -> Scenario:
        """The scenario restricted to one route; LoadError if it has no load."""
        want = _canonical_or_same(route)
        kept = tuple(r for r in self.routes if r.route == want)
        if not kept:
            known = ", ".join(r.route for r in self.routes) or "none"
            raise LoadError(
                "scenario",
                f"route {want!r} has no load in this scenario (routes with load: {known})",
            )
        return replace(self, routes=kept)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (bodies base64), read back by :meth:`from_json`."""
        return {
            "source": self.source,
            "notes": list(self.notes),
            "routes": [
                {
                    "route": r.route,
                    "weight": r.weight,
                    "requests": [
                        {
                            "method": q.method,
                            "url": q.url,
                            "path": q.path,
                            "query": q.query,
                            "headers": [list(h) for h in q.headers],
                            "body_b64": base64.b64encode(q.body).decode("ascii"),
                        }
                        for q in r.requests
                    ],
                }
                for r in self.routes
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Scenario:
        routes = tuple(
            RouteLoad(
                route=str(r["route"]),
                weight=float(r["weight"]),
                requests=tuple(
                    LoadRequest(
                        method=str(q["method"]),
                        path=str(q["path"]),
                        query=str(q.get("query", "")),
                        headers=tuple((str(k), str(v)) for k, v in q.get("headers", [])),
                        body=base64.b64decode(q.get("body_b64", "")),
                    )
                    for q in r["requests"]
                ),
            )
            for r in data["routes"]
        )
        return cls(routes, str(data.get("source", "routes")), tuple(data.get("notes", ())))


def from_routes(config: Config) -> Scenario:
    """A scenario from the route table: every route with ``weight > 0``, its path parameters
    filled from ``examples`` (every combination, up to 1000 per route).

    A route whose path needs a parameter without examples is left out, with a note.
    """
    routes: list[RouteLoad] = []
    notes: list[str] = []
    for index, route in enumerate(config.routes):
        if route.weight <= 0:
            notes.append(f"{route.key}: weight 0, no load")
            continue
        methods = _methods(route, notes)
        if not methods:
            continue
        params = _params(route.path)
        missing = [p for p, _ in params if p not in route.examples]
        if missing:
            notes.append(
                f"{route.key}: no load, path parameter {missing[0]!r} has no examples "
                f"(add routes[{index}].examples: {{{missing[0]}: [...]}})"
            )
            continue
        paths = list(itertools.islice(_expand(route, params), MAX_REQUESTS_PER_ROUTE))
        requests = tuple(LoadRequest(method, path) for method in methods for path in paths)
        routes.append(RouteLoad(route.key, route.weight, requests))
    return _non_empty(Scenario(tuple(routes), "routes", tuple(notes)), "the route table")


def from_corpus(
    entries: Iterable[CorpusEntry], config: Config, *, name: str = "corpus"
) -> Scenario:
    """A scenario from recorded traffic: each route weighted by how often it was recorded.

    Recorded requests are replayed as they were (method, path, query, headers, body); write
    methods only for routes with ``load_writes: true``.
    """
    by_route: dict[str, list[LoadRequest]] = {}
    counts: dict[str, int] = {}
    dropped_writes: dict[str, int] = {}
    known = {r.key: r for r in config.routes}
    for request, _response in entries:
        # unmatched requests: the catch-all, named as the proxy's metrics and errors name it
        route = _canonical_or_same(request.route) if request.route else CATCH_ALL
        rc = known.get(route)
        if request.method not in SAFE_METHODS and not (rc and rc.load_writes):
            dropped_writes[route] = dropped_writes.get(route, 0) + 1
            continue
        counts[route] = counts.get(route, 0) + 1
        kept = by_route.setdefault(route, [])
        if len(kept) < MAX_REQUESTS_PER_ROUTE * 10:
            kept.append(
                LoadRequest(
                    method=request.method,
                    path=request.path,
                    query=request.query,
                    headers=tuple(
                        (k, v) for k, v in request.headers if k.lower() not in _DROPPED_HEADERS
                    ),
                    body=request.body or b"",
                )
            )
    notes = [
        f"{route}: {n} recorded write request(s) not sent "
        "(set load_writes: true on the route to send them)"
        for route, n in sorted(dropped_writes.items())
    ]
    routes = tuple(
        RouteLoad(route, float(counts[route]), tuple(reqs)) for route, reqs in by_route.items()
    )
    return _non_empty(Scenario(routes, name, tuple(notes)), f"the corpus {name}")


def _non_empty(scenario: Scenario, where: str) -> Scenario:
    if not scenario.routes:
        why = "; ".join(scenario.notes) or "no routes"
        raise ConfigError(
            "routes" if where == "the route table" else "",
            where,
            f"at least one route with load ({why})",
        )
    return scenario


def _canonical_or_same(route: str) -> str:
    try:
        return canonical_route(route)
    except ValueError:
        return route


def _methods(route: RouteConfig, notes: list[str]) -> tuple[str, ...]:
    declared = route.methods
    if "*" in declared or "GET" in declared:
        safe: tuple[str, ...] = ("GET",)
    else:
        safe = tuple(m for m in declared if m in SAFE_METHODS)[:1]
    writes = tuple(m for m in declared if m not in SAFE_METHODS and m != "*")
    if writes and not route.load_writes:
        notes.append(
            f"{route.key}: {', '.join(writes)} not sent (set load_writes: true to allow writes)"
        )
        writes = ()
    if not safe and not writes:
        return ()
    return safe + writes


def _params(path: str) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    for segment in path.split("/"):
        if segment.startswith("{") and segment.endswith("}"):
            name, _, kind = segment[1:-1].partition(":")
            out.append((name, kind == "path"))
    return out


def _expand(route: RouteConfig, params: list[tuple[str, bool]]) -> Iterable[str]:
    names = [name for name, _ in params]
    is_path = dict(params)
    choices = [route.examples[name] for name in names]
    for combo in itertools.product(*choices):
        values = dict(zip(names, combo, strict=True))
        segments = []
        for segment in route.path.split("/"):
            if segment.startswith("{") and segment.endswith("}"):
                name = segment[1:-1].partition(":")[0]
                value = values[name]
                segments.append(quote(value, safe="/" if is_path[name] else ""))
            else:
                segments.append(segment)
        yield "/".join(segments)
