"""Comparison rules: what may differ between legacy and new, in one path syntax.

Rules come from the config, globally (``rules:``) and per route (``routes[].rules``); a
route's rules are added to the global ones by :func:`merge_rules`, and compiled once per
route by :func:`compile_rules` (regexes and path matchers are built there, never per
request)::

    rules:
      ignore: ["$.items[*].updated_at", "$..request_id"]
      unordered: ["$.tags", {path: "$.items", key: id}]
      tolerance: [{path: "$.total", abs: 0.01}, {path: "$..price", rel: 0.001}]
      masks: [{path: "$..id", shape: uuid}, {shape: iso-datetime}, {path: "$.ref", regex: "R-\\\\d+"}]
      headers: {compare: [content-type, cache-control], ignore: [x-trace]}
      redact: {fields: [password, "$.card.cvv"], headers: [x-session], query: [sig]}

Paths follow :mod:`shadow.paths` (exact segments; ``items.id`` never silences
``items.idempotency_key``). An ignored path also ignores everything below it. A mask without
``path`` applies to every string in the document, and to text bodies.

>>> rules = Rules.model_validate({"ignore": ["$.items[*].updated_at"]})
>>> compiled = compile_rules(rules)
>>> "date" in compiled.ignored_headers
True
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shadow._matcher import PathMatcher
from shadow.paths import DESCEND, PathPattern, parse_path

__all__ = [
    "DEFAULT_IGNORED_HEADERS",
    "MASK_SHAPES",
    "CompiledRules",
    "HeaderRules",
    "MaskRule",
    "RedactRules",
    "Rules",
    "ToleranceRule",
    "UnorderedRule",
    "compile_rules",
    "merge_rules",
    "route_rules",
]

#: Named groups usable in ``headers.compare`` and ``headers.ignore``.
HEADER_GROUPS: dict[str, frozenset[str]] = {
    "cors": frozenset(
        {
            "access-control-allow-origin",
            "access-control-allow-methods",
            "access-control-allow-headers",
            "access-control-allow-credentials",
            "access-control-expose-headers",
            "access-control-max-age",
        }
    ),
    "caching": frozenset({"cache-control", "etag", "expires", "last-modified", "age", "vary"}),
    "security": frozenset(
        {
            "strict-transport-security",
            "content-security-policy",
            "x-frame-options",
            "x-content-type-options",
            "referrer-policy",
        }
    ),
    # How the body is delimited: compared as present/absent, never the length itself.
    "framing": frozenset({"content-length", "transfer-encoding"}),
}


def header_names(names: Iterable[str]) -> frozenset[str]:
    """Header names lower-cased, with groups (``cors``, ``caching``...) expanded.

    >>> sorted(header_names(["X-Id", "framing"]))
    ['content-length', 'transfer-encoding', 'x-id']
    """
    out: set[str] = set()
    for name in names:
        key = name.strip().lower()
        out |= HEADER_GROUPS.get(key, {key})
    return frozenset(out)


#: Headers that differ between any two servers and say nothing about the API (and the CORS
#: answers, which frameworks add on their own; `headers.compare: [cors]` brings them back).
DEFAULT_IGNORED_HEADERS = HEADER_GROUPS["cors"] | frozenset(
    {
        "age",
        "alt-svc",
        "connection",
        "content-encoding",  # bodies are decoded before comparing
        "content-length",
        "date",
        "etag",
        "expires",
        "keep-alive",
        "last-modified",
        "request-id",
        "server",
        "set-cookie",
        "transfer-encoding",
        "via",
        "x-correlation-id",
        "x-powered-by",
        "x-request-id",
        "x-response-time",
        "x-runtime",
    }
)

#: Value shapes a mask recognises, with the text that replaces a matching value.
MASK_SHAPES: dict[str, tuple[str, str]] = {
    "uuid": (
        r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
        "<uuid>",
    ),
    "iso-datetime": (
        r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?",
        "<datetime>",
    ),
    "iso-date": (r"\d{4}-\d{2}-\d{2}", "<date>"),
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_path(value: str) -> str:
    parse_path(value)  # PathSyntaxError is a ValueError: pydantic reports it with the key path
    return value


class UnorderedRule(_Frozen):
    """An array whose order does not matter; ``key`` pairs elements by a field."""

    path: str = Field(description="the array, e.g. '$.items'")
    key: str | None = Field(None, description="field that identifies an element, e.g. id")

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        return {"path": data} if isinstance(data, str) else data

    _path = field_validator("path")(_check_path)


class ToleranceRule(_Frozen):
    """Numbers at ``path`` are equal within ``abs`` (absolute) or ``rel`` (relative)."""

    path: str = Field(description="the numbers, e.g. '$..price'")
    abs: float | None = Field(None, ge=0, description="largest absolute difference")
    rel: float | None = Field(
        None, ge=0, description="largest difference relative to the larger value"
    )

    _path = field_validator("path")(_check_path)

    @model_validator(mode="after")
    def _one_bound(self) -> ToleranceRule:
        if self.abs is None and self.rel is None:
            raise ValueError("'abs' or 'rel' (or both)")
        return self


class MaskRule(_Frozen):
    """Values of a known shape are replaced by a placeholder before comparing."""

    path: str | None = Field(None, description="where; every string when omitted")
    shape: Literal["uuid", "iso-datetime", "iso-date"] | None = Field(
        None, description="a known shape (give shape or regex)"
    )
    regex: str | None = Field(None, description="a Python regex the whole value must match")

    @field_validator("path")
    @classmethod
    def _check(cls, value: str | None) -> str | None:
        return None if value is None else _check_path(value)

    @field_validator("regex")
    @classmethod
    def _check_regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"a valid regular expression ({exc})") from exc
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> MaskRule:
        if (self.shape is None) == (self.regex is None):
            raise ValueError("exactly one of 'shape' (uuid, iso-datetime, iso-date) or 'regex'")
        return self


class HeaderRules(_Frozen):
    """Which response headers are compared (names are case-insensitive)."""

    compare: tuple[str, ...] | None = Field(
        None,
        description="only these headers (or groups: cors, caching, security, framing), even "
        "default-ignored ones; all but the ignored ones when omitted",
    )
    ignore: tuple[str, ...] = Field(
        (), description="ignored besides Date, Server and the like (names or groups)"
    )


class RedactRules(_Frozen):
    """What is removed before anything is stored, reported or logged (besides the defaults)."""

    fields: tuple[str, ...] = Field(
        (), description="JSON field names (at any depth) or '$' paths; also query parameters"
    )
    headers: tuple[str, ...] = Field((), description="more header names to redact")


class Rules(_Frozen):
    """The comparison rules of the config (global or per route)."""

    ignore: tuple[str, ...] = Field((), description="paths whose values never count")
    unordered: tuple[UnorderedRule, ...] = Field((), description="arrays compared as sets")
    tolerance: tuple[ToleranceRule, ...] = Field((), description="numeric tolerances")
    masks: tuple[MaskRule, ...] = Field((), description="values masked by shape")
    case_insensitive_keys: tuple[str, ...] = Field(
        (),
        description="objects whose keys are compared lower-cased, e.g. echoed headers "
        "['$.headers']",
    )
    headers: HeaderRules = HeaderRules()
    redact: RedactRules = RedactRules()

    @field_validator("ignore", "case_insensitive_keys")
    @classmethod
    def _check_ignore(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            _check_path(item)
        return value


def merge_rules(base: Rules, route: Rules) -> Rules:
    """The global rules plus a route's: lists are added; the route's header set wins."""
    return Rules(
        ignore=(*base.ignore, *route.ignore),
        unordered=(*base.unordered, *route.unordered),
        tolerance=(*base.tolerance, *route.tolerance),
        masks=(*base.masks, *route.masks),
        case_insensitive_keys=(*base.case_insensitive_keys, *route.case_insensitive_keys),
        headers=HeaderRules(
            compare=route.headers.compare
            if route.headers.compare is not None
            else base.headers.compare,
            ignore=(*base.headers.ignore, *route.headers.ignore),
        ),
        redact=RedactRules(
            fields=(*base.redact.fields, *route.redact.fields),
            headers=(*base.redact.headers, *route.redact.headers),
        ),
    )


# Actions attached to body paths by the normaliser.
@dataclass(frozen=True, slots=True)
class Ignore:
    pass


@dataclass(frozen=True, slots=True)
class Mask:
    pattern: re.Pattern[str]
    placeholder: str
    whole: bool  # the whole value must match (a mask with a path), else every occurrence

    def apply(self, value: str) -> str:
        if self.whole:
            return self.placeholder if self.pattern.fullmatch(value) else value
        return self.pattern.sub(self.placeholder, value)


@dataclass(frozen=True, slots=True)
class Unordered:
    key: str | None


@dataclass(frozen=True, slots=True)
class Tolerance:
    abs: float
    rel: float


@dataclass(frozen=True, slots=True)
class CaseInsensitiveKeys:
    """An object whose keys are compared lower-cased (echoed HTTP header names)."""


BodyAction = Ignore | Mask | Unordered | CaseInsensitiveKeys


@dataclass(frozen=True, slots=True)
class CompiledRules:
    """Rules ready to use: path matchers, compiled masks, header sets."""

    rules: Rules
    body: PathMatcher[BodyAction]
    tolerance: PathMatcher[Tolerance]
    text_masks: tuple[Mask, ...]
    compared_headers: frozenset[str] | None
    ignored_headers: frozenset[str]

    @property
    def has_body_rules(self) -> bool:
        return self.body.root is not None


def _mask(rule: MaskRule) -> Mask:
    if rule.shape is not None:
        regex, placeholder = MASK_SHAPES[rule.shape]
    else:
        regex, placeholder = rule.regex or "", "<masked>"
    return Mask(re.compile(regex), placeholder, whole=rule.path is not None)


_EVERYWHERE = PathPattern("$..", (DESCEND,))


@lru_cache(maxsize=512)
def compile_rules(rules: Rules) -> CompiledRules:
    """Compile rules once (cached: equal rules share one compiled object)."""
    body: list[tuple[PathPattern, BodyAction]] = [(parse_path(p), Ignore()) for p in rules.ignore]
    text_masks: list[Mask] = []
    for m in rules.masks:
        mask = _mask(m)
        body.append((parse_path(m.path) if m.path else _EVERYWHERE, mask))
        if m.path is None:
            text_masks.append(mask)
    body += [(parse_path(u.path), Unordered(u.key)) for u in rules.unordered]
    body += [(parse_path(p), CaseInsensitiveKeys()) for p in rules.case_insensitive_keys]
    tolerance = [
        (parse_path(t.path), Tolerance(t.abs or 0.0, t.rel or 0.0)) for t in rules.tolerance
    ]
    compared = header_names(rules.headers.compare) if rules.headers.compare is not None else None
    ignored = header_names(rules.headers.ignore)
    # A header named in `compare` is compared even if it is ignored by default.
    defaults = (
        DEFAULT_IGNORED_HEADERS - compared if compared is not None else DEFAULT_IGNORED_HEADERS
    )
    return CompiledRules(
        rules=rules,
        body=PathMatcher(body),
        tolerance=PathMatcher(tolerance),
        text_masks=tuple(text_masks),
        compared_headers=compared,
        ignored_headers=defaults | ignored,
    )


def route_rules(global_rules: Rules, route: Rules) -> CompiledRules:
    """The compiled rules of one route: the global rules plus the route's own.

    >>> cfg_rules = Rules(ignore=("$.at",))
    >>> route_rules(cfg_rules, Rules(ignore=("$.id",))).rules.ignore
    ('$.at', '$.id')
    """
    return compile_rules(merge_rules(global_rules, route))
