"""Path templates inferred from observed requests, in bounded memory (pure: no I/O).

Each path is split into segments and walked down a tree, one tree per method set:

- a segment that looks like an identifier becomes a parameter at once: digits, a UUID, a
  hex hash (8+ hex digits with a digit and a letter), a date (``2024-05-01``), or an opaque
  token (16+ letters, digits, ``-`` or ``_``, mixing letters and digits);
- a position where too many distinct literal values appear under one parent (more than
  ``fanout``, 64 by default: slugs, user names) becomes a parameter too; the heavy hitters
  among its literals (5 % of the traffic through that position, and 10 requests) stay, so
  ``/orgs/export`` survives beside ``/orgs/{org}`` (a literal first seen after that, when
  the position is already a parameter, joins the parameter); not the first segment, where
  fixed words live and what a flood of probes varies;
- so does a position with a few words (``min_siblings``, 5) when half of them or more go on
  with the same fixed word (``/orgs/acme/forms``, ``/orgs/hope/forms``: values of one
  parameter, while ``/api/users/7`` and ``/api/orders/7`` stay fixed collections), decided
  when the entries are read;
- the query string is dropped, and no raw identifier is ever kept: a literal is kept only
  while its position has few distinct values.

Parameters are named after the collection segment before them, made singular
(``/orgs/42`` → ``/orgs/{org_id}``, ``/orgs/acme`` → ``/orgs/{org}``), with ``id`` and a
number when there is no such segment or the name is taken, so a template never names a
parameter twice (``strangler check`` would refuse it).

Memory is bounded by ``max_nodes`` tree nodes: once full, the least-seen leaves are dropped
(their requests counted under ``other`` and reported as such) until a quarter is free, so
the endpoints that carry traffic stay, whatever came before them. A flood of random paths
fills at most ``fanout`` literal children per node (the first segment aside) before the
node turns into a parameter.

>>> t = TemplateTree()
>>> for path in ("/orgs/1", "/orgs/2/forms/7", "/orgs/2/forms/8", "/health"):
...     t.add("GET", path)
>>> [(e.route, e.count) for e in t.entries()]
[('GET /orgs/{org_id}/forms/{form_id}', 2), ('GET /health', 1), ('GET /orgs/{org_id}', 1)]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["DiscoveredRoute", "TemplateTree", "identifier_kind"]

_HEX = frozenset("0123456789abcdefABCDEF")
_TOKEN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
_PARAM = "\0"  # the key of a node's parameter child (never a literal: paths carry no NUL)
_DOCUMENTED = "documented"  # in a node's kinds: a document's operation names this word


def identifier_kind(segment: str) -> str | None:
    """``id``, ``uuid``, ``hash``, ``date`` or ``token`` when ``segment`` looks like an
    identifier, else None. A file name counts as what comes before its extension.

    >>> [identifier_kind(s) for s in ("42", "3f2b8c1e-9a7d-4c1b-8e2f-0a1b2c3d4e5f", "acme")]
    ['id', 'uuid', None]
    >>> [identifier_kind(s) for s in ("12.json", "0419019fa461b70a.pdf", "app.3f9a8b7c.js")]
    ['id', 'hash', 'hash']
    """
    if "." in segment:  # 12.json, 0419019fa461b70a.pdf, app.3f9a8b7c.js
        for part in segment.split(".")[:-1]:
            kind = _bare_kind(part) if part else None
            if kind is not None:
                return kind
    return _bare_kind(segment)


def _bare_kind(segment: str) -> str | None:
    if segment.isdigit():
        return "id"
    n = len(segment)
    if n == 36 and segment.count("-") == 4 and all(c in _HEX for c in segment.replace("-", "")):
        return "uuid"
    if n == 10 and segment[4] == "-" and segment[7] == "-" and segment.replace("-", "").isdigit():
        return "date"
    if n >= 8 and all(c in _HEX for c in segment):
        has_digit = any(c.isdigit() for c in segment)
        if has_digit and not segment.isdigit() and any(c.isalpha() for c in segment):
            return "hash"
    opaque = n >= 16 and all(c in _TOKEN for c in segment)
    if opaque and any(c.isdigit() for c in segment) and any(c.isalpha() for c in segment):
        return "token"
    return None


@dataclass(slots=True)
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    kinds: set[str] = field(default_factory=set)  # for a parameter node: what it stood for
    methods: dict[str, int] = field(default_factory=dict)  # requests ending here
    total: int = 0  # requests through this node
    collapsed: bool = False  # too many literal children: new literals go to the parameter


@dataclass(frozen=True, slots=True)
class DiscoveredRoute:
    """One inferred endpoint: its route key, requests seen and share of all requests."""

    methods: tuple[str, ...]
    path: str
    count: int
    share: float

    @property
    def route(self) -> str:
        return f"{','.join(self.methods)} {self.path}"


class TemplateTree:
    """Accumulates requests (``add``) and gives the inferred endpoints (``entries``)."""

    def __init__(self, *, fanout: int = 64, max_nodes: int = 50_000, min_siblings: int = 5) -> None:
        self.fanout = fanout
        self.min_siblings = min_siblings
        self.max_nodes = max_nodes
        self.nodes = 1
        self.total = 0
        self.other = 0  # requests not placed: the tree was full
        self._root = _Node()

    def add(self, method: str, path: str, count: int = 1) -> None:
        """Count ``count`` requests ``method path`` (a query string is dropped)."""
        self.total += count
        cut = path.find("?")
        if cut >= 0:
            path = path[:cut]
        segments = [s for s in path.split("/") if s]
        if self.nodes + len(segments) > self.max_nodes:
            self._prune()
        node = self._root
        node.total += count
        for segment in segments:
            nxt = self._child(node, segment)
            if nxt is None:
                self.other += count
                return
            node = nxt
            node.total += count
            if not count:  # an operation of a document (OpenAPI): its words are fixed ones
                node.kinds.add(_DOCUMENTED)
        method = method.upper()
        node.methods[method] = node.methods.get(method, 0) + count

    def add_many(self, requests: Iterable[tuple[str, str, int]]) -> None:
        for method, path, count in requests:
            self.add(method, path, count)

    def _child(self, node: _Node, segment: str) -> _Node | None:
        # an OpenAPI template's own parameter ("{uuid}", "{id}.json"): the parameter child,
        # so its traffic and the document's operation are one route, not two of one shape
        kind = _declared(segment) if "{" in segment else identifier_kind(segment)
        if kind is None:
            found = node.children.get(segment)
            if found is not None:
                return found
            if not node.collapsed:
                if self.nodes >= self.max_nodes:
                    return None
                literals = len(node.children) - (_PARAM in node.children)
                # The first segment is where fixed words live, and what a flood of probes
                # varies: only the node bound (least seen dropped first) limits it there.
                if literals < self.fanout or node is self._root:
                    self.nodes += 1
                    created = node.children[segment] = _Node()
                    return created
                self._collapse(node)
            kind = "slug"
        param = node.children.get(_PARAM)
        if param is None:
            if self.nodes >= self.max_nodes:
                return None
            self.nodes += 1
            param = node.children[_PARAM] = _Node()
        param.kinds.add(kind)
        return param

    def _prune(self) -> None:
        """The tree is full: drop its least-seen leaves (their requests go to ``other``)
        until a quarter of it is free, so the endpoints that carry traffic stay whatever
        came before them."""
        target = self.max_nodes * 3 // 4
        while self.nodes > target:
            leaves: list[tuple[bool, int, _Node, str]] = []
            stack = [self._root]
            while stack:
                node = stack.pop()
                for key, child in node.children.items():
                    if child.children:
                        stack.append(child)
                    else:
                        leaves.append((bool(child.methods), child.total, node, key))
            if not leaves:
                return
            leaves.sort(key=lambda leaf: (leaf[0], leaf[1]))
            # at most the lighter half at a time: a branch emptied here is a leaf next pass,
            # judged against the heavy leaves that stay
            for _, _, parent, key in leaves[: min(self.nodes - target, max(1, len(leaves) // 2))]:
                gone = parent.children.pop(key)
                self.other += sum(gone.methods.values())
                self.nodes -= 1

    def _collapse(self, node: _Node) -> None:
        """Too many literal values here: merge all but the heavy hitters into the parameter."""
        node.collapsed = True
        keep = max(10, node.total // 20)  # a heavy hitter: 5 % of the traffic through here
        param = node.children.get(_PARAM)
        if param is None:
            param = node.children[_PARAM] = _Node()
            self.nodes += 1
        param.kinds.add("slug")
        for key in [k for k in node.children if k != _PARAM]:
            child = node.children[key]
            if child.total < keep:
                del node.children[key]
                self._merge(param, child)

    def _merge(self, into: _Node, other: _Node) -> None:
        self.nodes -= 1
        into.total += other.total
        into.kinds |= other.kinds
        for method, count in other.methods.items():
            into.methods[method] = into.methods.get(method, 0) + count
        for key, child in other.children.items():
            mine = into.children.get(key)
            if mine is None:
                into.children[key] = child
            else:
                self._merge(mine, child)

    def _settle(self, node: _Node) -> None:
        param = node.children.get(_PARAM)
        if param is not None and any(k.startswith("declared:") for k in param.kinds):
            # a document declares a parameter here: the words only traffic shows are its
            # values (/orgs/acme beside /orgs/{slug}), the ones it names stay (/orgs/export)
            for key in [k for k, c in node.children.items() if _DOCUMENTED not in c.kinds]:
                if key != _PARAM:
                    self._merge(param, node.children.pop(key))
        self._settle_siblings(node)
        for child in list(node.children.values()):
            self._settle(child)

    def _settle_siblings(self, node: _Node) -> None:
        """Words that go on with the same fixed word are values of one parameter
        (``/orgs/acme/forms``, ``/orgs/hope/forms``), however few: when at least
        ``min_siblings`` literals sit here and half of them or more share what follows, those
        that share it (and the light others) join the parameter."""
        literals = {k: c for k, c in node.children.items() if k != _PARAM}
        if not node.collapsed and len(literals) >= self.min_siblings:
            following: dict[str, int] = {}
            for child in literals.values():
                for key in child.children:
                    if key != _PARAM:
                        following[key] = following.get(key, 0) + 1
            word, sharing = max(following.items(), key=lambda kv: kv[1], default=("", 0))
            if sharing * 2 >= len(literals):
                keep = max(10, node.total // 20)
                param = node.children.get(_PARAM)
                if param is None:
                    param = node.children[_PARAM] = _Node()
                    self.nodes += 1
                param.kinds.add("slug")
                node.collapsed = True
                for key, child in literals.items():
                    if word in child.children or child.total < keep:
                        del node.children[key]
                        self._merge(param, child)

    def entries(self) -> list[DiscoveredRoute]:
        """Every endpoint seen, most requested first (methods of one path together)."""
        out: list[DiscoveredRoute] = []
        total = self.total or 1
        nodes = self.nodes
        root = _copy(self._root)
        self._settle(root)  # on a copy: later requests still see the words as they came
        self.nodes = nodes

        def walk(node: _Node, parts: list[str], used: set[str], previous: str | None) -> None:
            if node.methods:
                count = sum(node.methods.values())
                path = "/" + "/".join(parts) if parts else "/"
                out.append(DiscoveredRoute(tuple(sorted(node.methods)), path, count, count / total))
            for key, child in node.children.items():
                if key == _PARAM:
                    name = _param_name(previous, child.kinds, used)
                    walk(child, [*parts, f"{{{name}}}"], used | {name}, None)
                else:
                    walk(child, [*parts, key], used, key)

        walk(root, [], set(), None)
        out.sort(key=lambda e: (-e.count, e.path))
        return out


def _copy(node: _Node) -> _Node:
    return _Node(
        {k: _copy(c) for k, c in node.children.items()},
        set(node.kinds),
        dict(node.methods),
        node.total,
        node.collapsed,
    )


def _singular(word: str) -> str:
    word = word.lower().replace("-", "_")
    if not word.replace("_", "").isalnum() or not word[:1].isalpha():
        return ""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ses", "xes")) and len(word) > 4:
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 2:
        return word[:-1]
    return word


def _declared(segment: str) -> str:
    """The kind that carries a template parameter's own name: ``declared:org_slug``."""
    name = segment[segment.find("{") + 1 :].split("}", 1)[0].split(":", 1)[0]
    name = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return "declared:" + (name if name[:1].isalpha() or name[:1] == "_" else f"p_{name}")


def _param_name(previous: str | None, kinds: set[str], used: set[str]) -> str:
    declared = sorted(k.removeprefix("declared:") for k in kinds if k.startswith("declared:"))
    kinds = {k for k in kinds if not k.startswith("declared:") and k != _DOCUMENTED}
    if declared and not kinds and declared[0] not in used and declared[0] != "p_":
        return declared[0]  # only the document speaks for it: its own name
    kinds = kinds or {"id"}
    base = _singular(previous) if previous else ""
    if "slug" in kinds and kinds <= {"slug", "token"}:  # slugs, some long with digits
        name = base or "slug"
    elif kinds <= {"date"}:
        name = f"{base}_date" if base else "date"
    else:
        name = f"{base}_id" if base else "id"
    candidate, n = name, 2
    while candidate in used:
        candidate, n = f"{name}{n}", n + 1
    return candidate
