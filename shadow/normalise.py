"""Apply the body rules to a parsed JSON document: ignore, mask, unordered arrays.

Normalising is a walk guided by the compiled rule paths: only the parts of the document
some rule can reach are visited and copied; the rest is shared with the input. Two
documents that are equal after normalising answer the same, as far as the rules care.

>>> from shadow.rules import Rules, compile_rules
>>> rules = compile_rules(Rules(ignore=("$.ts",), unordered=({"path": "$.tags"},)))
>>> normalise({"ts": 1, "tags": ["b", "a"], "id": 7}, rules)
{'tags': ['a', 'b'], 'id': 7}
"""

from __future__ import annotations

from typing import Any

import orjson

from shadow._matcher import Node
from shadow.rules import BodyAction, CaseInsensitiveKeys, CompiledRules, Ignore, Mask, Unordered

__all__ = ["KeyedList", "normalise"]


class KeyedList(dict[Any, Any]):
    """An unordered array paired by a key field: ``{key value: element}``.

    The differ reports its elements as ``[id=7]`` instead of a position.
    """

    __slots__ = ("field",)

    def __init__(self, field: str, items: dict[Any, Any]) -> None:
        super().__init__(items)
        self.field = field


_IGNORED: Any = object()
_SORT_OPTS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def _sort_key(item: Any) -> bytes:
    try:
        return orjson.dumps(item, option=_SORT_OPTS)
    except TypeError:
        return repr(item).encode()


def _unordered(items: list[Any], key: str | None) -> Any:
    if key is not None:
        keyed: dict[Any, Any] = {}
        for item in items:
            if not isinstance(item, dict) or key not in item:
                break
            value = item[key]
            if not isinstance(value, str | int | float | bool) or value in keyed:
                break
            keyed[value] = item
        else:
            return KeyedList(key, keyed)
        # An element without a usable key: compare the array as a sorted multiset instead.
    return sorted(items, key=_sort_key)


def _apply(node: Any, actions: tuple[BodyAction, ...]) -> Any:
    for action in actions:
        if isinstance(action, Ignore):
            return _IGNORED
        if isinstance(action, Mask):
            if isinstance(node, str):
                node = action.apply(node)
        elif isinstance(action, Unordered) and isinstance(node, list):
            node = _unordered(node, action.key)
        elif isinstance(action, CaseInsensitiveKeys) and isinstance(node, dict):
            node = {str(k).lower(): v for k, v in node.items()}
    return node


def _walk(node: Any, where: Node[BodyAction]) -> Any:
    if where.actions and any(isinstance(a, Ignore) for a in where.actions):
        return _IGNORED
    if type(node) is dict:
        if where.reaches_all_keys:
            out: dict[str, Any] = {}
            for k, v in node.items():
                child = where.key(k)
                if child is not None:
                    v = _walk(v, child)
                    if v is _IGNORED:
                        continue
                out[k] = v
            node = out
        elif where.keys:
            copy: dict[str, Any] | None = None
            for k, child in where.keys.items():
                if k in node:
                    v = _walk(node[k], child)
                    if copy is None:
                        copy = dict(node)
                    if v is _IGNORED:
                        del copy[k]
                    else:
                        copy[k] = v
            if copy is not None:
                node = copy
    elif type(node) is list:
        if where.any_index is not None:
            items = []
            for i, v in enumerate(node):
                child = where.index(i)
                if child is not None:
                    v = _walk(v, child)
                    if v is _IGNORED:
                        continue
                items.append(v)
            node = items
        elif where.indexes:
            items = list(node)
            # Highest position first, so removing one does not shift the others.
            for i in sorted(where.indexes, reverse=True):
                if i < len(items):
                    v = _walk(items[i], where.indexes[i])
                    if v is _IGNORED:
                        del items[i]
                    else:
                        items[i] = v
            node = items
    if where.actions:
        node = _apply(node, where.actions)
    return node


def normalise(doc: Any, rules: CompiledRules) -> Any:
    """The document as the rules see it (the input is not changed)."""
    root = rules.body.root
    if root is None:
        return doc
    out = _walk(doc, root)
    return None if out is _IGNORED else out
