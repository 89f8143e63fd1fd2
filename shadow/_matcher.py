"""Match many rule paths at once while walking a document (a small, cached NFA).

Each pattern is a tuple of segments; a state is ``(pattern index, position)``. A set of
states is compiled once into a :class:`Node` that says, for every key or index the walk may
meet, which node comes next, and which patterns end here. Walking a document is then one
dict lookup per visited child; subtrees no pattern can reach are never visited.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, TypeVar

from shadow.paths import ANY_INDEX, ANY_KEY, DESCEND, Keyed, PathPattern, Segment

__all__ = ["Node", "PathMatcher"]

A = TypeVar("A")
State = tuple[int, int]


class Node(Generic[A]):
    """Where a walk stands: the actions ending here and the nodes of the children."""

    __slots__ = ("actions", "any_index", "any_key", "indexes", "keys", "reaches_all_keys")

    def __init__(self) -> None:
        self.actions: tuple[A, ...] = ()
        self.keys: dict[str, Node[A]] = {}
        self.any_key: Node[A] | None = None
        self.indexes: dict[int, Node[A]] = {}
        self.any_index: Node[A] | None = None
        self.reaches_all_keys = False

    def key(self, name: str) -> Node[A] | None:
        return self.keys.get(name, self.any_key)

    def index(self, position: int) -> Node[A] | None:
        return self.indexes.get(position, self.any_index)


class PathMatcher(Generic[A]):
    """Compiled patterns, each with an action; ``root`` is None when there are none.

    >>> from shadow.paths import parse_path
    >>> m = PathMatcher([(parse_path("$.items[*].id"), "x")])
    >>> m.match(("items", 4, "id")), m.match(("items", 4, "idempotency_key"))
    (('x',), ())
    """

    def __init__(self, patterns: Sequence[tuple[PathPattern, A]]) -> None:
        self._segs: list[tuple[Segment, ...]] = [p.segments for p, _ in patterns]
        self._acts: list[A] = [a for _, a in patterns]
        self._memo: dict[frozenset[State], Node[A]] = {}
        start = self._closure({(i, 0) for i in range(len(self._segs))})
        self.root: Node[A] | None = self._node(start) if start else None

    def _closure(self, states: set[State]) -> frozenset[State]:
        todo = list(states)
        out = set(states)
        while todo:
            r, p = todo.pop()
            segs = self._segs[r]
            if p < len(segs) and segs[p] is DESCEND and (r, p + 1) not in out:
                out.add((r, p + 1))
                todo.append((r, p + 1))
        return frozenset(out)

    def _step(self, states: frozenset[State], child: str | int | None, is_key: bool) -> set[State]:
        """States after moving to a child; ``child`` None means "any other key/index"."""
        nxt: set[State] = set()
        for r, p in states:
            segs = self._segs[r]
            if p >= len(segs):
                continue
            seg = segs[p]
            if seg is DESCEND:
                nxt.add((r, p))
            elif (
                (seg is ANY_KEY and is_key)
                or (seg is ANY_INDEX and not is_key)
                or (child is not None and type(seg) is type(child) and seg == child)
            ):
                nxt.add((r, p + 1))
        return nxt

    def _node(self, states: frozenset[State]) -> Node[A]:
        node = self._memo.get(states)
        if node is not None:
            return node
        node = Node()
        self._memo[states] = node  # before recursing: Descend loops back to itself
        node.actions = tuple(self._acts[r] for r, p in sorted(states) if p == len(self._segs[r]))
        named_keys: set[str] = set()
        named_indexes: set[int] = set()
        for r, p in states:
            segs = self._segs[r]
            if p < len(segs):
                seg = segs[p]
                if isinstance(seg, str):
                    named_keys.add(seg)
                elif isinstance(seg, int):
                    named_indexes.add(seg)
                elif seg is ANY_KEY or seg is DESCEND:
                    node.reaches_all_keys = True
        any_key = self._closure(self._step(states, None, True))
        node.any_key = self._node(any_key) if any_key else None
        any_index = self._closure(self._step(states, None, False))
        node.any_index = self._node(any_index) if any_index else None
        for k in named_keys:
            nxt = self._closure(self._step(states, k, True))
            if nxt:
                node.keys[k] = self._node(nxt)
        for i in named_indexes:
            nxt = self._closure(self._step(states, i, False))
            if nxt:
                node.indexes[i] = self._node(nxt)
        return node

    def match(self, path: Sequence[str | int | Keyed]) -> tuple[A, ...]:
        """The actions of the patterns that match this concrete path exactly."""
        node = self.root
        for seg in path:
            if node is None:
                return ()
            if isinstance(seg, str):
                node = node.key(seg)
            elif isinstance(seg, int):
                node = node.index(seg)
            else:
                node = node.any_index
        return node.actions if node is not None else ()
