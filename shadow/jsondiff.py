"""Field-level differences of two parsed JSON documents: a fast recursive walk.

Equal subtrees are skipped with one ``==`` (C speed); only differing branches are
descended. Numbers may differ within a tolerance rule. The walk stops after ``limit``
differences (the verdict then says it was truncated).

>>> from shadow.rules import Rules, compile_rules
>>> diffs, _ = diff_json({"a": 1, "b": [1, 2]}, {"a": "1", "b": [1], "c": 0}, compile_rules(Rules()))
>>> [(d.path, d.kind) for d in diffs]
[('$.a', 'type'), ('$.b[1]', 'missing'), ('$.c', 'added')]
"""

from __future__ import annotations

from typing import Any

from shadow.normalise import KeyedList
from shadow.paths import Concrete, Keyed, render_both
from shadow.rules import CompiledRules
from shadow.verdict import Difference, DifferenceKind

__all__ = ["DEFAULT_LIMIT", "diff_json", "echoed_headers"]

DEFAULT_LIMIT = 200


_ABSENT: Any = object()


#: Header names common enough that an object keyed mostly by them is an echo of HTTP headers.
_HEADER_NAMES = frozenset(
    [
        "accept",
        "accept-encoding",
        "accept-language",
        "authorization",
        "cache-control",
        "connection",
        "content-encoding",
        "content-length",
        "content-type",
        "cookie",
        "date",
        "etag",
        "forwarded",
        "host",
        "if-modified-since",
        "if-none-match",
        "last-modified",
        "location",
        "origin",
        "pragma",
        "referer",
        "server",
        "set-cookie",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "vary",
        "via",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-real-ip",
        "x-request-id",
        "x-correlation-id",
        "x-amzn-trace-id",
        "traceparent",
    ]
)


def echoed_headers(a: dict[Any, Any], b: dict[Any, Any], path: list[Concrete]) -> bool:
    """Whether two objects are the same HTTP header map spelled in another case.

    Header names are case-insensitive (RFC 9110), and frameworks echo them in their own
    case (``Content-Type`` / ``content-type``): an object named ``headers``, or keyed only or
    mostly by well-known header names, whose keys differ only in case is compared by lower-cased
    keys. Anywhere else a key's case is part of the API, and its change is reported.
    """
    lower_a = {str(k).lower() for k in a}
    lower_b = {str(k).lower() for k in b}
    if len(lower_a) != len(a) or len(lower_b) != len(b) or lower_a.isdisjoint(lower_b):
        return False  # two keys one case apart on one side, or nothing in common
    if not any(k not in b and str(k).lower() in lower_b for k in a):
        return False  # no key changed case: nothing to forgive
    name = path[-1] if path else None
    if isinstance(name, str) and name.lower() in ("headers", "header", "http_headers"):
        return True
    both = lower_a | lower_b
    known = sum(1 for k in both if k in _HEADER_NAMES)
    return known == len(both) or (known >= 2 and 2 * known >= len(both))


class _Full(Exception):
    """Raised inside the walk once the limit is reached."""


def _number(value: Any) -> bool:
    return type(value) is int or type(value) is float


class _Walk:
    __slots__ = ("limit", "out", "rules")

    def __init__(self, rules: CompiledRules, limit: int) -> None:
        self.rules = rules
        self.limit = limit
        self.out: list[Difference] = []

    def add(self, path: list[Concrete], kind: DifferenceKind, legacy: Any, new: Any) -> None:
        concrete, general = render_both(path)
        self.out.append(Difference(concrete, kind, legacy, new, general))
        if len(self.out) >= self.limit:
            raise _Full

    def within_tolerance(self, path: list[Concrete], a: float, b: float) -> bool:
        for tol in self.rules.tolerance.match(path):
            gap = abs(a - b)
            if gap <= tol.abs or gap <= tol.rel * max(abs(a), abs(b)):
                return True
        return False

    def walk(self, a: Any, b: Any, path: list[Concrete]) -> None:
        ta, tb = type(a), type(b)
        # `True == 1` in Python, not in JSON; `1 == 1.0` in both.
        if a == b and (ta is tb or (_number(a) and _number(b))):
            return
        if (ta is dict or ta is KeyedList) and (tb is dict or tb is KeyedList):
            field = a.field if ta is KeyedList and tb is KeyedList else ""
            keyed = bool(field)
            if not keyed and a.keys() != b.keys() and echoed_headers(a, b, path):
                a = {str(k).lower(): v for k, v in a.items()}
                b = {str(k).lower(): v for k, v in b.items()}
            for k, va in a.items():
                vb = b.get(k, _ABSENT)
                if vb is not _ABSENT and type(va) is type(vb) and va == vb:
                    continue  # the common case, without a call
                seg: Concrete = Keyed(field, k) if keyed else k
                path.append(seg)
                if vb is not _ABSENT:
                    self.walk(va, vb, path)
                else:
                    self.add(path, "missing", va, None)
                path.pop()
            for k, vb in b.items():
                if k not in a:
                    path.append(Keyed(field, k) if keyed else k)
                    self.add(path, "added", None, vb)
                    path.pop()
        elif ta is list and tb is list:
            common = min(len(a), len(b))
            for i in range(common):
                va, vb = a[i], b[i]
                if type(va) is type(vb) and va == vb:
                    continue
                path.append(i)
                self.walk(va, vb, path)
                path.pop()
            for i in range(common, len(a)):
                path.append(i)
                self.add(path, "missing", a[i], None)
                path.pop()
            for i in range(common, len(b)):
                path.append(i)
                self.add(path, "added", None, b[i])
                path.pop()
        elif _number(a) and _number(b):
            if self.rules.tolerance.root is None or not self.within_tolerance(path, a, b):
                self.add(path, "value", a, b)
        elif ta is not tb or ta is KeyedList or tb is KeyedList:
            self.add(path, "type", a, b)
        else:
            self.add(path, "value", a, b)


def diff_json(
    legacy: Any, new: Any, rules: CompiledRules, *, limit: int = DEFAULT_LIMIT
) -> tuple[list[Difference], bool]:
    """The differences of two (normalised) documents, and whether the walk was cut short."""
    walk = _Walk(rules, limit)
    try:
        walk.walk(legacy, new, [])
    except _Full:
        return walk.out, True
    return walk.out, False
