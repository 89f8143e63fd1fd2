"""The route table: compiled path templates, specificity, and the per-request mode decision.

Pure values and functions, no I/O. A :class:`RouteTable` is an immutable snapshot built
once from the config (and the live states read from the store); the proxy swaps the whole
snapshot when a flip arrives::

    >>> from strangler.config import parse_config
    >>> cfg = parse_config({"legacy": "http://127.0.0.1:8001", "new": "http://127.0.0.1:8002",
    ...                     "routes": [{"route": "GET /orgs/{slug}", "mode": "new"}]})
    >>> table = RouteTable.build(cfg)
    >>> m = table.match("GET", "/orgs/acme")
    >>> m.route.key, m.params
    ('GET /orgs/{slug}', {'slug': 'acme'})
    >>> decide(m.route, None, lambda: 0.5).primary
    'new'
    >>> table.match("GET", "/elsewhere") is None       # the catch-all, served by legacy
    True

Specificity, compared segment by segment from the left: a static segment beats a
``{param}``, which beats ``{rest:path}``; then the longer template beats the shorter; then
a route naming its methods beats ``*``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import parse_qsl

from shadow.exchange import Side
from strangler._modes import CATCH_ALL
from strangler._sticky import bucket_of, cookie_value
from strangler._types import Scope
from strangler.config import Config, RouteConfig, ShadowSettings, StickyKey, Timeouts
from strangler.records import RouteState

__all__ = [
    "BUCKETS",
    "CATCH_ALL",
    "Decision",
    "Route",
    "RouteMatch",
    "RouteTable",
    "Side",
    "decide",
    "sticky_key",
]

BUCKETS = 10_000

_STATIC, _PARAM, _REST = 0, 1, 2


@dataclass(frozen=True, slots=True)
class _Segment:
    kind: int
    text: str  # the static text, or the parameter's name


def _compile(template: str) -> tuple[_Segment, ...]:
    out = []
    for part in template.split("/")[1:]:
        if part.startswith("{") and part.endswith(":path}"):
            out.append(_Segment(_REST, part[1:-6]))
        elif part.startswith("{") and part.endswith("}"):
            out.append(_Segment(_PARAM, part[1:-1]))
        else:
            out.append(_Segment(_STATIC, part))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Route:
    """The plan for one route: its template and its effective (live or configured) mode."""

    key: str
    methods: frozenset[str] | None  # None: any method ("*")
    mode: str
    percent: Decimal | None = None
    sticky: StickyKey | None = None
    shadow: ShadowSettings = field(default_factory=ShadowSettings)
    timeouts: Timeouts | None = None
    config: RouteConfig | None = None  # None for the catch-all
    live: bool = False  # True when the mode comes from the store, not the file
    segments: tuple[_Segment, ...] = field(default=(), repr=False)
    threshold: int = 0  # canary: buckets below this go to new (percent * 100)

    @property
    def path(self) -> str:
        return self.key.split(" ", 1)[1]

    @property
    def specificity(self) -> tuple[tuple[int, ...], int, int]:
        """Sort key: smaller is more specific."""
        return (
            tuple(s.kind for s in self.segments),
            -len(self.segments),
            1 if self.methods is None else 0,
        )

    def allows(self, method: str) -> bool:
        return self.methods is None or method in self.methods

    def fits(self, parts: list[str]) -> bool:
        """Whether ``parts`` (the request path split on '/') fit this template."""
        segs = self.segments
        n = len(parts)
        for i, seg in enumerate(segs):
            kind = seg.kind
            if kind == _REST:
                return i < n
            if i >= n:
                return False
            if kind == _STATIC:
                if parts[i] != seg.text:
                    return False
            elif not parts[i]:
                return False
        return n == len(segs)

    def bind(self, parts: list[str]) -> dict[str, str] | None:
        """Path parameters if ``parts`` (the request path split on '/') fit this template."""
        params: dict[str, str] = {}
        segs = self.segments
        for i, seg in enumerate(segs):
            if seg.kind == _REST:
                params[seg.text] = "/".join(parts[i:])
                return params if i < len(parts) else None
            if i >= len(parts):
                return None
            if seg.kind == _STATIC:
                if parts[i] != seg.text:
                    return None
            elif parts[i]:
                params[seg.text] = parts[i]
            else:
                return None
        return params if len(parts) == len(segs) else None


def _plan(
    rc: RouteConfig | None,
    key: str,
    mode: str,
    percent: Decimal | None,
    cfg: Config,
    *,
    live: bool = False,
) -> Route:
    methods_text = key.split(" ", 1)[0]
    methods = None if methods_text == "*" else frozenset(methods_text.split(","))
    threshold = int((percent or Decimal(0)) * 100) if mode == "canary" else 0
    return Route(
        key=key,
        methods=methods,
        mode=mode,
        percent=percent,
        sticky=rc.sticky if rc else None,
        shadow=cfg.route_shadow(rc) if rc else cfg.shadow,
        timeouts=rc.timeouts if rc else None,
        config=rc,
        live=live,
        segments=_compile(key.split(" ", 1)[1]),
        threshold=threshold,
    )


@dataclass(frozen=True, slots=True)
class RouteMatch:
    """The route a request matched and its path parameters."""

    route: Route
    params: dict[str, str]


@dataclass(frozen=True, slots=True)
class RouteTable:
    """An immutable snapshot of every route, ready for matching.

    Routes are bucketed by their first static segment, so a request only tries the routes
    that could fit it, most specific first.
    """

    routes: tuple[Route, ...]
    catch_all: Route
    version: int = 0
    _by_first: Mapping[str, tuple[Route, ...]] = field(default_factory=dict, repr=False)
    _wild: tuple[Route, ...] = field(default=(), repr=False)

    @classmethod
    def build(
        cls, config: Config, live: Mapping[str, RouteState] | None = None, version: int = 0
    ) -> RouteTable:
        """Compile the config's routes; a route's live state (from the store) wins over the file."""
        live = live or {}
        plans = []
        for rc in config.routes:
            state = live.get(rc.key)
            if state is not None:
                plans.append(_plan(rc, rc.key, state.mode, state.percent, config, live=True))
            else:
                plans.append(_plan(rc, rc.key, rc.mode, rc.percent, config))
        ordered = sorted(plans, key=lambda r: r.specificity)
        wild = tuple(r for r in ordered if not r.segments or r.segments[0].kind != _STATIC)
        firsts = {
            r.segments[0].text for r in ordered if r.segments and r.segments[0].kind == _STATIC
        }
        by_first = {
            first: tuple(
                r
                for r in ordered
                if r in wild or (r.segments[0].kind == _STATIC and r.segments[0].text == first)
            )
            for first in firsts
        }
        catch_all = _plan(None, CATCH_ALL, "legacy", None, config)
        return cls(tuple(plans), catch_all, version, by_first, wild)

    def match(self, method: str, path: str) -> RouteMatch | None:
        """The most specific route for this request, or None (the catch-all, legacy)."""
        parts = path.split("/")[1:] if path.startswith("/") else path.split("/")
        first = parts[0] if parts else ""
        for route in self._by_first.get(first, self._wild):
            methods = route.methods
            if methods is not None and method not in methods:
                continue
            params = route.bind(parts)
            if params is not None:
                return RouteMatch(route, params)
        return None

    def route_for(self, method: str, path: str) -> Route:
        """The route serving this request (the catch-all when none matches), without
        binding path parameters: the proxy's per-request lookup::

            table.route_for("GET", "/orgs/acme").key    # 'GET /orgs/{slug}'
            table.route_for("GET", "/elsewhere").key    # '* /{path:path}'
        """
        parts = path.split("/")[1:] if path.startswith("/") else path.split("/")
        for route in self._by_first.get(parts[0] if parts else "", self._wild):
            methods = route.methods
            if (methods is None or method in methods) and route.fits(parts):
                return route
        return self.catch_all

    def resolve(self, method: str, path: str) -> RouteMatch:
        """Like :meth:`match`, but an unmatched request gets the catch-all route."""
        return self.match(method, path) or RouteMatch(self.catch_all, {})

    def get(self, key: str) -> Route | None:
        """The plan of the route with this canonical key."""
        return next((r for r in self.routes if r.key == key), None)


@dataclass(frozen=True, slots=True)
class Decision:
    """Where one request goes.

    ``primary`` answers the client; ``shadow`` (if any) is called afterwards, off the
    critical path, for comparison; ``fallback`` says a failure of new may be replayed on
    legacy (canary only).
    """

    primary: Side
    shadow: Side | None = None
    fallback: bool = False
    bucket: int | None = None  # canary: the sticky bucket (None: chosen at random)


_LEGACY = Decision("legacy")
_NEW = Decision("new")


def decide(
    route: Route, key: str | None, rand: Callable[[], float], *, scope: str | None = None
) -> Decision:
    """Choose the primary side (and the side to shadow) for one request.

    ``key`` is the request's sticky key (see :func:`sticky_key`); ``rand`` returns a float
    in [0, 1) and is used for keyless canary requests and shadow sampling (a route in
    mode shadow, new with ``shadow.reverse`` or canary with ``shadow.canary`` is shadowed on
    ``shadow.sample`` of its requests, chosen by the sticky key when there is one: the
    sampling happens here, so unsampled requests cost nothing)::

        decide(route, "user-42", random.random)
        # Decision(primary='new', shadow=None, fallback=True, bucket=317)
    """
    mode = route.mode
    if mode == "legacy":
        return _LEGACY
    if mode == "shadow":
        return Decision("legacy", "new") if _sampled(route, key, rand) else _LEGACY
    if mode == "canary":
        if key is None:
            bucket = None
            to_new = rand() * BUCKETS < route.threshold
        else:
            # ``scope``: an auth domain's name, so one client has one bucket in all its routes
            bucket = bucket_of(scope or route.key, key, BUCKETS)
            to_new = bucket < route.threshold
        other: Side | None = None
        if route.shadow.canary and _sampled(route, key, rand):
            other = "legacy" if to_new else "new"
        return (
            Decision("new", other, True, bucket)
            if to_new
            else Decision("legacy", other, False, bucket)
        )
    if mode == "new":
        if route.shadow.reverse and _sampled(route, key, rand):
            return Decision("new", "legacy")
        return _NEW
    return _NEW  # retired: only new is ever called


def _sampled(route: Route, key: str | None, rand: Callable[[], float]) -> bool:
    """Whether this request is shadowed: by the sticky key when there is one (the same
    clients are always sampled, so multi-request flows stay whole), else at random."""
    sample = route.shadow.sample
    if sample >= 1.0:
        return True
    if sample <= 0.0:
        return False
    if key is not None:
        # A hash salted apart from the canary's, so sampling is independent of the split.
        return bucket_of("shadow-sample:" + route.key, key, BUCKETS) < sample * BUCKETS
    return rand() < sample


def sticky_key(route: Route, scope: Scope, client_ip: str | None = None) -> str | None:
    """The request's sticky key for ``route`` (header, cookie, query parameter or client IP).

    ``client_ip`` overrides the socket peer (the proxy passes the address it trusts after
    X-Forwarded-For). None when the route has no sticky setting or the request lacks it.
    """
    sticky = route.sticky
    if sticky is None:
        return None
    source = sticky.source
    if source == "client-ip":
        if client_ip is not None:
            return client_ip
        client = scope.get("client")
        return str(client[0]) if client else None
    if source == "query":
        raw: str = scope.get("query_string", b"").decode("latin-1")
        for name, value in parse_qsl(raw, keep_blank_values=True):
            if name == sticky.name:
                return value
        return None
    wanted = b"cookie" if source == "cookie" else sticky.name.lower().encode("latin-1")
    for name, value in scope.get("headers", ()):
        if name.lower() == wanted:
            text: str = value.decode("latin-1")
            if source == "header":
                return text
            found = cookie_value(text, sticky.name)
            if found is not None:
                return found
    return None
