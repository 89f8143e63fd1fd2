"""The config model: the pydantic tree, its validation, and loading a YAML file."""

from __future__ import annotations

import ipaddress
import os
import re
import reprlib
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from shadow.exchange import SAFE_METHODS
from shadow.rules import Rules
from strangler._errors import ConfigError, RouteError
from strangler._modes import MODES
from strangler.config._auth import (
    AuthDomain,
    AuthSettings,
    ExchangeBridgeSpec,
    HookBridgeSpec,
    covers,
)
from strangler.config._backends import BackendConfig, Timeouts, TLSConfig
from strangler.config._base import Frozen

__all__ = [
    "METHODS",
    "MODES",
    "SAFE_METHODS",
    "AdminSettings",
    "AuthDomain",
    "AuthSettings",
    "BackendConfig",
    "Config",
    "DatabaseSettings",
    "ExchangeBridgeSpec",
    "HookBridgeSpec",
    "LoadSettings",
    "Mode",
    "PathSettings",
    "ProxySettings",
    "ReadinessSettings",
    "ReadinessThresholds",
    "RollbackSettings",
    "RouteConfig",
    "ShadowSettings",
    "StickyKey",
    "TLSConfig",
    "Timeouts",
    "canonical_route",
    "config_schema",
    "duration_option",
    "load_config",
    "parse_config",
    "parse_duration",
]

Mode = Literal["legacy", "shadow", "canary", "new", "retired"]
METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE", "TRACE")

_TEMPLATE_PART = re.compile(r"^(?:[^{}]*|\{[A-Za-z_][A-Za-z0-9_]*(?::path)?\})$")


class StickyKey(Frozen):
    """What keeps a client on one side of a canary: ``header:NAME``, ``cookie:NAME``,
    ``query:NAME`` or ``client-ip``."""

    source: Literal["header", "cookie", "query", "client-ip"] = Field(
        description="where the key is read from"
    )
    name: str = Field("", description="the header, cookie or query parameter (not for client-ip)")

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        if not isinstance(data, str):
            return data
        if data == "client-ip":
            return {"source": "client-ip"}
        source, sep, name = data.partition(":")
        if not sep or not name or source not in ("header", "cookie", "query"):
            raise ValueError("'header:NAME', 'cookie:NAME', 'query:NAME' or 'client-ip'")
        return {"source": source, "name": name.lower() if source == "header" else name}

    def __str__(self) -> str:
        return self.source if self.source == "client-ip" else f"{self.source}:{self.name}"


class ShadowSettings(Frozen):
    """How a route's traffic is sent to the other side and compared."""

    reverse: bool = Field(False, description="in mode new, also call legacy and compare")
    canary: bool = Field(
        True,
        description="in mode canary, also call the side that did not answer and compare "
        "(the evidence for canary -> new; writes follow `writes`)",
    )
    sample: float = Field(1.0, ge=0, le=1, description="share of requests shadowed")
    timeout: float = Field(5.0, gt=0, description="seconds the shadow call may take")
    writes: Literal["skip", "sandbox", "allow"] = Field(
        "skip", description="what to do with POST/PUT/PATCH/DELETE"
    )
    max_in_flight: int = Field(64, ge=1, description="shadow calls in flight; more are dropped")
    body_cap: int = Field(1 << 20, ge=0, description="bytes buffered per body for comparison")
    noise_sample: float = Field(
        0.1, ge=0, le=1, description="share of safe requests that also call legacy twice"
    )


class RouteConfig(Frozen):
    """One endpoint: ``METHODS path-template`` with its initial mode."""

    route: str = Field(description="'GET /orgs/{slug}' or 'GET,HEAD /files/{rest:path}'")
    mode: Mode = Field("legacy", description="the initial mode; a flip in the store wins over it")
    percent: Decimal | None = Field(
        None, ge=0, le=100, description="canary share sent to new, in 0.01 steps"
    )
    sticky: StickyKey | None = Field(None, description="keeps a client on one side")
    timeouts: Timeouts | None = Field(None, description="overrides the backends' timeouts")
    shadow: ShadowSettings | None = Field(None, description="overrides the global shadow settings")
    gating: bool = Field(False, description="parity failures fail CI even in legacy/shadow")
    rules: Rules = Field(
        Rules(), description="comparison rules for this route, added to the global ones"
    )
    examples: dict[str, tuple[str, ...]] = Field(
        default_factory=dict,
        description="example values of the path parameters for load tests: {slug: [acme, hope]}",
    )
    weight: float = Field(
        1.0, ge=0, description="share of generated load without a corpus (0 = no load)"
    )
    load_writes: bool = Field(
        False, description="load tests may send this route's POST/PUT/PATCH/DELETE"
    )

    @field_validator("route")
    @classmethod
    def _check_route(cls, value: str) -> str:
        return canonical_route(value)

    @field_validator("examples", mode="before")
    @classmethod
    def _examples_as_text(cls, value: Any) -> Any:
        # `{id: [1, 2]}` is what people write: path values are text on the wire anyway
        if isinstance(value, dict):
            return {
                k: [
                    str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v
                    for v in vs
                ]
                if isinstance(vs, list | tuple)
                else vs
                for k, vs in value.items()
            }
        return value

    @field_validator("examples")
    @classmethod
    def _check_examples(
        cls, value: dict[str, tuple[str, ...]], info: ValidationInfo
    ) -> dict[str, tuple[str, ...]]:
        path = str(info.data.get("route", " ")).split(" ", 1)[-1]
        params = re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::path)?\}", path)
        for name, values in value.items():
            if name not in params:
                known = ", ".join(params) or "none"
                raise ValueError(f"{name!r} is not a path parameter (parameters: {known})")
            if not values:
                raise ValueError(f"at least one value for {name!r}")
        return value

    @field_validator("percent")
    @classmethod
    def _check_percent(cls, value: Decimal | None) -> Decimal | None:
        if value is not None and value != value.quantize(Decimal("0.01")):
            raise ValueError("steps of 0.01")
        return value

    @model_validator(mode="after")
    def _check_mode(self) -> RouteConfig:
        if self.mode == "canary" and self.percent is None:
            raise ValueError("mode canary needs 'percent' (0 to 100)")
        if self.mode != "canary" and self.percent is not None:
            raise ValueError(f"'percent' is for mode canary only, not {self.mode}")
        return self

    @property
    def key(self) -> str:
        return self.route

    @property
    def methods(self) -> tuple[str, ...]:
        return tuple(self.route.split(" ", 1)[0].split(","))

    @property
    def path(self) -> str:
        return self.route.split(" ", 1)[1]


class PathSettings(Frozen):
    """How the proxy normalises request paths before routing (see docs/proxy.md, "Paths")."""

    merge_slashes: bool = Field(True, description="route and forward '//' as '/'")
    semicolons: Literal["reject", "keep"] = Field(
        "reject", description="';' path parameters: refuse with 400, or keep them in the path"
    )
    escaped_slashes: Literal["reject", "keep"] = Field(
        "reject",
        description="%2F and %5C: refuse with 400, or keep them encoded inside their segment",
    )
    root_path: Literal["strip", "keep"] = Field(
        "strip",
        description="mounted under a prefix (root_path): route and forward the path inside "
        "the mount, or keep the prefix in both",
    )
    trailing_slash: Literal["ignore", "strict"] = Field(
        "ignore",
        description="'/a/' is routed like '/a' (and back) when only the catch-all fits; "
        "forwarded as sent",
    )


class ProxySettings(Frozen):
    """The proxy's own limits and header policy."""

    paths: PathSettings = Field(PathSettings(), description="path normalisation and refusals")
    max_body: int = Field(10 << 20, ge=0, description="largest request body accepted (413)")
    trusted_proxies: tuple[str, ...] = Field(
        (), description="IPs/CIDRs whose X-Forwarded-* headers are trusted"
    )
    via: bool = Field(False, description="add a Via header")
    poll_interval: float = Field(1.0, gt=0, description="seconds between live-state polls")
    fast_path: bool = Field(
        True,
        description=(
            "strangler serve relays passthrough and shadowed requests without ASGI (false: never)"
        ),
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _check_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"{item!r} is not an IP address or CIDR network") from exc
        return value


class AdminSettings(Frozen):
    """The admin side: JSON API, dashboard, metrics; writes need the token."""

    host: str = Field("127.0.0.1", description="address the admin side binds")
    port: int = Field(8099, ge=0, le=65535, description="port of the admin side")
    token_env: str = Field("STRANGLER_ADMIN_TOKEN", description="env var holding the token")
    token: str | None = Field(None, description="the token itself (prefer token_env)")
    refresh: float = Field(
        10.0, ge=0, le=3600, description="seconds between the dashboard's updates in place (0: off)"
    )

    @field_validator("refresh", mode="before")
    @classmethod
    def _refresh_duration(cls, value: object) -> object:
        return parse_duration(value) if isinstance(value, str) else value

    def resolved_token(self) -> str | None:
        return self.token or os.environ.get(self.token_env) or None


class DatabaseSettings(Frozen):
    """The legacy and new application databases the data mappings copy between.

    Relative SQLite paths are resolved next to the config file by the data-migration kit.
    """

    legacy: str | None = Field(None, description="SQLAlchemy URL of the legacy database")
    new: str | None = Field(None, description="SQLAlchemy URL of the new database")


def parse_duration(value: str | float) -> float:
    """Seconds from ``90``, ``"90s"``, ``"2m"``, ``"1m30s"``, ``"1h"`` or ``"2d"``: the one
    duration grammar of the config and of every command-line option.

    >>> parse_duration("1m30s"), parse_duration("2d"), parse_duration("90")
    (90.0, 172800.0, 90.0)
    """
    if isinstance(value, int | float):
        return float(value)
    text = value.strip().lower()
    number = r"(\d+(?:\.\d+)?)"
    match = re.fullmatch(rf"(?:{number}d)?(?:{number}h)?(?:{number}m)?(?:{number}s?)?", text)
    if not text or match is None:
        raise ValueError("a duration like 90, '90s', '2m', '1h30m' or '2d'")
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return days * 86400 + hours * 3600 + minutes * 60 + seconds


class LoadSettings(Frozen):
    """Load tests and the cutover load gate (``strangler load``, package ``load``)."""

    users: int = Field(10, ge=1, description="simulated users (concurrent connections)")
    spawn_rate: float = Field(10.0, gt=0, description="users started per second")
    duration: float = Field(60.0, gt=0, description="seconds of load per target ('90s', '2m')")
    think_time: float = Field(0.0, ge=0, description="seconds each user waits between requests")
    request_timeout: float = Field(30.0, gt=0, description="seconds before a request fails")
    failure_tolerance: float = Field(
        0.01, ge=0, le=1, description="new's failure rate may exceed legacy's by this (0.01 = 1 pt)"
    )
    latency_tolerance: float = Field(
        0.10, ge=0, description="new's median latency may exceed legacy's by this share"
    )
    tail_tolerance: float = Field(
        0.25, ge=0, description="new's p95 latency may exceed legacy's by this share"
    )
    latency_floor_ms: float = Field(
        1.0, ge=0, description="slowdowns smaller than this many ms never fail the gate"
    )
    min_samples: int = Field(100, ge=1, description="latency samples needed per side and route")
    alpha: float = Field(
        0.02, gt=0, lt=1, description="Mann-Whitney U significance (0.02 = 98% confidence)"
    )
    sample_cap: int = Field(5000, ge=100, description="latency samples kept per route (reservoir)")
    generator_capacity: float | None = Field(
        None, gt=0, description="req/s one load process reaches here (bench/bench_loadgen.py)"
    )

    @field_validator("duration", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return parse_duration(value) if isinstance(value, str) else value


class ReadinessThresholds(Frozen):
    """What a route must show before a flip sends more of its traffic to new."""

    window: float = Field(3600.0, gt=0, description="seconds of recent traffic judged ('1h')")
    min_compared: int = Field(100, ge=0, description="compared requests needed in the window")
    min_parity: float = Field(
        0.99, ge=0, le=1, description="share of compared requests that agree (noise agrees)"
    )
    max_error_increase: float = Field(
        0.01, ge=0, le=1, description="new's error rate may exceed legacy's by this (0.01 = 1 pt)"
    )
    max_p99_ratio: float = Field(1.5, gt=0, description="new's p99 latency over legacy's")
    evidence_max_age: float | None = Field(
        7 * 86400.0, gt=0, description="parity/load/data results older than this do not count"
    )
    require: tuple[Literal["parity", "load", "data"], ...] = Field(
        (), description="evidence kinds needed even when none was ever recorded for the route"
    )

    @field_validator("window", "evidence_max_age", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return parse_duration(value) if isinstance(value, str) else value


class ReadinessSettings(ReadinessThresholds):
    """Flip gate thresholds (``readiness:``), with optional per-route overrides::

    readiness:
      min_parity: 0.995
      routes:
        "GET /orgs/{slug}": {min_compared: 20}
    """

    routes: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per-route overrides of the thresholds above"
    )

    @field_validator("routes")
    @classmethod
    def _check_overrides(
        cls, value: dict[str, dict[str, Any]], info: ValidationInfo
    ) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        base = {k: v for k, v in info.data.items() if k in ReadinessThresholds.model_fields}
        for key, override in value.items():
            try:
                ReadinessThresholds.model_validate({**base, **override})
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise ValueError(f"{key!r}: {where}: {_expected(first['msg'])}") from None
            out[canonical_route(key)] = dict(override)
        return out

    def for_route(self, route: str) -> ReadinessThresholds:
        """The thresholds that apply to ``route`` (the global ones plus its override)."""
        base = {k: getattr(self, k) for k in ReadinessThresholds.model_fields}
        override = self.routes.get(route)
        if not override:
            return ReadinessThresholds(**base)
        return ReadinessThresholds.model_validate({**base, **override})


class RollbackSettings(Frozen):
    """Automatic rollback of routes in canary or new (``rollback:``)."""

    enabled: bool = Field(True, description="the proxy sends a failing route back by itself")
    window: float = Field(60.0, gt=0, description="sliding window judged, in seconds ('1m')")
    min_requests: int = Field(20, ge=1, description="requests new served in the window, at least")
    max_error_rate: float = Field(
        0.05, ge=0, le=1, description="new's error rate (5xx, failures, fallbacks) in the window"
    )
    max_p99_ratio: float = Field(
        3.0, gt=0, description="new's p99 latency over legacy's (when both have the sample)"
    )
    max_mismatch_rate: float = Field(
        0.05, ge=0, le=1, description="mismatching share of compared requests in the window"
    )
    interval: float = Field(1.0, gt=0, description="seconds between two checks")
    to_mode: Literal["legacy", "shadow"] = Field(
        "shadow", description="where a failing route goes (shadow keeps collecting evidence)"
    )

    @field_validator("window", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return parse_duration(value) if isinstance(value, str) else value


class Config(Frozen):
    """The whole config file."""

    legacy: BackendConfig = Field(description="the old implementation: a URL or 'module:attr'")
    new: BackendConfig = Field(description="the rewrite: a URL or 'module:attr'")
    new_sandbox: BackendConfig | None = Field(None, description="candidate with its own data")
    store: str = Field("sqlite:///strangler.db", description="SQLAlchemy URL of the store")

    @field_validator("mappings")
    @classmethod
    def _check_mappings(cls, value: dict[str, str]) -> dict[str, str]:
        for name, spec in value.items():
            if not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*", spec):
                raise ValueError(f"{name}: {spec!r} is not 'package.module:attribute'")
        return value

    @field_validator("store")
    @classmethod
    def _check_store(cls, value: str) -> str:
        # imported here: reading a config must not load SQLAlchemy for the pure core
        from strangler.store.urls import check_store_url

        check_store_url(value)
        return value

    routes: tuple[RouteConfig, ...] = Field(
        (), description="the endpoints; the rest goes to legacy"
    )
    proxy: ProxySettings = ProxySettings()
    admin: AdminSettings = AdminSettings()
    shadow: ShadowSettings = ShadowSettings()
    rules: Rules = Field(Rules(), description="global comparison rules (see docs/shadow.md)")
    readiness: ReadinessSettings = ReadinessSettings()
    rollback: RollbackSettings = RollbackSettings()
    mappings: dict[str, str] = Field(
        default_factory=dict, description="data mappings: name -> 'module:attribute'"
    )
    databases: DatabaseSettings = DatabaseSettings()
    load: LoadSettings = LoadSettings()
    auth: AuthSettings = Field(
        AuthSettings(), description="auth domains: credentials bridged between the sides"
    )
    source: str | None = Field(None, description="the file this config came from", exclude=True)

    @field_validator("routes")
    @classmethod
    def _unique_routes(cls, value: tuple[RouteConfig, ...]) -> tuple[RouteConfig, ...]:
        seen: dict[str, RouteConfig] = {}
        for i, r in enumerate(value):
            shape = _shape(r.path)
            for m in r.methods:
                other = seen.get(f"{m} {shape}")
                if other is not None:
                    same = "declared twice" if other.key == r.key else f"the same as {other.key!r}"
                    raise ValueError(
                        f"routes[{i}] {r.key!r} is {same} (one method and path, whatever "
                        "the parameters are called)"
                    )
                seen[f"{m} {shape}"] = r
        return value

    @field_validator("readiness")
    @classmethod
    def _readiness_routes(cls, value: ReadinessSettings, info: ValidationInfo) -> ReadinessSettings:
        declared = {r.key for r in info.data.get("routes", ())}
        for key in value.routes:
            try:
                canonical = canonical_route(key)
            except ValueError as exc:
                raise ValueError(f"routes[{key!r}]: {exc}") from None
            if canonical not in declared:
                raise ValueError(f"routes[{key!r}] names no declared route")
        return value

    @field_validator("auth")
    @classmethod
    def _auth_routes(cls, value: AuthSettings, info: ValidationInfo) -> AuthSettings:
        declared = [r.key for r in info.data.get("routes", ())]
        owner: dict[str, str] = {}
        domains = []
        for i, domain in enumerate(value.domains):
            patterns = []
            for j, pattern in enumerate(domain.routes):
                where = f"domains[{i}].routes[{j}]"
                try:
                    canonical = canonical_route(pattern)
                except ValueError as exc:
                    raise ValueError(f"{where}: {exc}") from None
                hits = [r for r in declared if covers(canonical, r)]
                if not hits:
                    raise ValueError(f"{where}: {pattern!r} covers no declared route")
                for route in hits:
                    other = owner.setdefault(route, domain.name)
                    if other != domain.name:
                        raise ValueError(
                            f"{where}: route {route!r} is in domains {other!r} and "
                            f"{domain.name!r}; a route has one credential"
                        )
                patterns.append(canonical)
            domains.append(domain.model_copy(update={"routes": tuple(patterns)}))
        return value.model_copy(update={"domains": tuple(domains)})

    def route(self, key: str) -> RouteConfig:
        """The route this key names: any spelling of the methods (order, case, a subset of
        them) and of the parameter names, as long as it names exactly one route.

        ``GET /orgs/{slug}/forms`` names the route declared ``GET,HEAD /orgs/{id}/forms``.
        """
        want = canonical_route(key)
        for r in self.routes:
            if r.key == want:
                return r
        methods, path = want.split(" ", 1)
        asked, shape = set(methods.split(",")), _shape(path)
        found = [r for r in self.routes if _shape(r.path) == shape and asked <= set(r.methods)]
        if len(found) == 1:
            return found[0]
        raise RouteError(key, [r.key for r in self.routes])

    def route_shadow(self, route: RouteConfig) -> ShadowSettings:
        return route.shadow or self.shadow


def duration_option(option: str, text: str) -> float:
    """:func:`parse_duration` for a command-line option: a bad value is a ConfigError naming
    the option (``--since``, ``--duration``...), never a traceback."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise ConfigError(option, text, str(exc)) from None


def _shape(path: str) -> str:
    """A template with its parameters unnamed: ``/orgs/{slug}`` -> ``/orgs/{}``."""
    return re.sub(
        r"\{[A-Za-z_][A-Za-z0-9_]*(:path)?\}", lambda m: "{" + (m.group(1) or "") + "}", path
    )


def canonical_route(text: str) -> str:
    """Normalise ``"get, head  /a/{b}"`` to ``"GET,HEAD /a/{b}"``; raise ValueError if bad."""
    parts = text.strip().split(None, 1)
    if len(parts) != 2:
        raise ValueError("'METHODS /path', e.g. 'GET /orgs/{slug}'")
    methods = [m.strip().upper() for m in parts[0].split(",") if m.strip()]
    bad = [m for m in methods if m not in METHODS and m != "*"]
    if bad or not methods:
        raise ValueError(f"methods from {', '.join(METHODS)} or '*', got {parts[0]!r}")
    path = parts[1].strip()
    if not path.startswith("/"):
        raise ValueError(f"a path starting with '/', got {path!r}")
    segments = path.split("/")[1:]
    names = re.findall(r"\{([A-Za-z_][A-Za-z0-9_]*)", path)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"parameter {twice[0]!r} appears twice in {path!r}")
    for i, seg in enumerate(segments):
        if not _TEMPLATE_PART.match(seg):
            raise ValueError(f"path segment {seg!r}: use '{{name}}' or '{{name:path}}'")
        if seg.endswith(":path}") and i != len(segments) - 1:
            raise ValueError("'{name:path}' only as the last segment")
    ordered = sorted(set(methods), key=(*METHODS, "*").index)
    return f"{','.join(ordered)} {path}"


def _key_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "[" in part or "-" in part:
            continue  # pydantic's internal union/validator tags
        else:
            out += f".{part}" if out else part
    return out


_UNKNOWN_KEY = "no such key here (a typo? `strangler schema` lists every key)"


def _expected(msg: str) -> str:
    return msg.removeprefix("Value error, ").removeprefix("Input should be ")


def parse_config(data: Any, *, source: str | None = None) -> Config:
    """Validate already-parsed YAML data into a :class:`Config`."""
    if not isinstance(data, dict):
        raise ConfigError("", data, "a mapping at the top level", file=source)
    base = Path(source).parent if source else Path.cwd()
    data = dict(data)
    store = data.setdefault("store", "sqlite:///strangler.db")
    if (
        isinstance(store, str)
        and store.startswith("sqlite:///")
        and not store.startswith("sqlite:////")
    ):
        rel = store.removeprefix("sqlite:///")
        if rel and rel != ":memory:":
            data["store"] = f"sqlite:///{(base / rel).resolve()}"
    try:
        cfg = Config.model_validate(data, context={"base": base})
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            # A missing key's "input" is the whole mapping around it: quote nothing then.
            value = None if err["type"] == "missing" else err.get("input")
            if isinstance(value, dict | list):
                value = _SHORT.repr(value)  # bounded: never the whole document
            problems.append(
                ConfigError(
                    _key_path(err["loc"]),
                    value,
                    _UNKNOWN_KEY if err["type"] == "extra_forbidden" else _expected(err["msg"]),
                    file=source,
                )
            )
        raise ConfigError(
            problems[0].key,
            problems[0].value,
            problems[0].expected,
            file=source,
            problems=problems,
        ) from None
    return cfg.model_copy(update={"source": source})


MAX_CONFIG_BYTES = 4 << 20
_MAX_NODES = 200_000  # the document as expanded through its aliases
_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxstring = 2, 4, 4, 60
_MAX_ALIASES = 1_000
_MAX_DEPTH = 64


class _TooMuch(yaml.YAMLError):
    def __init__(self, where: str, what: str, expected: str) -> None:
        super().__init__(expected)
        self.where, self.what, self.expected = where, what, expected


class _StrictLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice and bounds aliases and nesting (an alias
    bomb would grow without bound)."""

    aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > _MAX_ALIASES:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise _TooMuch(
                    f"line {mark.line + 1}",
                    f"more than {_MAX_ALIASES} aliases",
                    "a config without an alias explosion",
                )
        self.depth = getattr(self, "depth", 0) + 1
        try:
            if self.depth > _MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]
                raise _TooMuch(
                    f"line {mark.line + 1}", f"deeper than {_MAX_DEPTH}", "a flatter config"
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_document(self, node: Any) -> Any:
        # Count the nodes as construction would visit them (aliases expanded, each shared
        # node's size computed once): an alias bomb is refused before it is built.
        sizes: dict[int, int] = {}

        def size(n: Any) -> int:
            known = sizes.get(id(n))
            if known is not None:
                return known
            sizes[id(n)] = 1  # a cycle counts once
            total = 1
            if isinstance(n.value, list):
                for item in n.value:
                    parts = item if isinstance(item, tuple) else (item,)
                    total += sum(size(p) for p in parts)
                    if total > _MAX_NODES:
                        break
            sizes[id(n)] = total
            return total

        if size(node) > _MAX_NODES:
            raise _TooMuch(
                "",
                f"more than {_MAX_NODES:,} values once its aliases are expanded",
                "a config without an alias explosion",
            )
        return super().construct_document(node)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                continue
            if key in seen:
                raise _TooMuch(
                    f"line {key_node.start_mark.line + 1}",
                    f"{key!r} (first at line {seen[key]})",
                    "each key once (a second one would silently win)",
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def load_config(path: str | os.PathLike[str] = "strangler.yaml") -> Config:
    """Read and validate a YAML config file."""
    p = Path(path)
    name = str(p)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            "", name, "an existing config file (see `strangler schema`)", file=name
        ) from None
    except OSError as exc:
        raise ConfigError("", name, f"a readable file ({exc.strerror})", file=name) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            "", f"{len(raw):,} bytes", f"a config under {MAX_CONFIG_BYTES:,} bytes", file=name
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"byte {exc.start}",
            raw[exc.start : exc.start + 4].hex(" "),
            "a UTF-8 text file",
            file=name,
        ) from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except _TooMuch as exc:
        raise ConfigError(exc.where, exc.what, exc.expected, file=name) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(where, problem, "valid YAML", file=name) from None
    return parse_config(data or {}, source=name)


def config_schema() -> dict[str, Any]:
    """The JSON Schema of the config file, for editors."""
    schema = Config.model_json_schema(mode="validation")
    schema["properties"].pop("source", None)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "strangler config"
    return schema
