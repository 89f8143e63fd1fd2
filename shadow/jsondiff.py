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

__all__ = ["DEFAULT_LIMIT", "diff_json"]

DEFAULT_LIMIT = 200


_ABSENT: Any = object()


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
