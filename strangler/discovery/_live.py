"""Discovery from live traffic: the templates of the requests that fall to the catch-all.

Two halves, so the hot path stays a list append (pure: no I/O in either):

- :class:`CatchAllSample`, on the hot path: the proxy hands it each request the catch-all
  answered (method and path as routed). It keeps at most ``cap`` of them between two
  folds; beyond that it only counts them (``dropped``), so its memory is bounded whatever
  the traffic. Taking the requests swaps the list (on the event loop, like the appends).
- :class:`LiveTemplates`, off the hot path (the recorder's worker thread): folds what the
  sample took into one :class:`~strangler.discovery.TemplateTree` for the process's
  lifetime (bounded by its ``max_nodes``), and says how many requests each inferred
  template served, scaled up by what the sample dropped so shares stay right. Only
  templates leave it (``GET /orders/{order_id}``), never a raw path.

A word that looked fixed until its position showed many values (``/orgs/acme`` before
``/orgs/{org}``) may have been written under its own template; :meth:`LiveTemplates.fold`
says which templates written before are now served by another (``renames``), so the
recorder can move their counts and the store keeps no such word once it is known to vary::

    >>> sample = CatchAllSample(cap=3)
    >>> for path in ("/orders/1", "/orders/2", "/orders/3", "/orders/4"):
    ...     sample.add("GET", path)
    >>> requests, dropped = sample.take()
    >>> len(requests), dropped
    (3, 1)
    >>> LiveTemplates().fold(requests, dropped).counts
    {('GET', '/orders/{order_id}'): 4}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from strangler.discovery._templates import DiscoveredRoute, TemplateTree

__all__ = ["OTHER", "CatchAllSample", "Fold", "LiveTemplates", "regroup"]

OTHER = "*"
"""The template of requests the tree could not place (it was full): counted, not named."""

MAX_TEMPLATE = 300  # the store's column; a longer template is counted under OTHER


class CatchAllSample:
    """The requests the catch-all answered since the last :meth:`take`, at most ``cap``.

    ``add`` is all the hot path pays: one length check and one append (or one increment
    beyond the cap).
    """

    __slots__ = ("cap", "dropped", "requests")

    def __init__(self, cap: int = 10_000) -> None:
        self.cap = cap
        self.requests: list[tuple[str, str]] = []
        self.dropped = 0

    def add(self, method: str, path: str) -> None:
        if len(self.requests) < self.cap:
            self.requests.append((method, path))
        else:
            self.dropped += 1

    def take(self) -> tuple[list[tuple[str, str]], int]:
        """The requests kept and the number dropped since the last take; starts afresh."""
        requests, dropped = self.requests, self.dropped
        self.requests, self.dropped = [], 0
        return requests, dropped


@dataclass(frozen=True, slots=True)
class Fold:
    """What one fold found: requests per ``(method, template)`` (sampled-out ones
    included), and ``{(method, old template): new template}`` for templates written
    before that another now serves."""

    counts: dict[tuple[str, str], int]
    renames: dict[tuple[str, str], str] = field(default_factory=dict)


class LiveTemplates:
    """One process's template tree over its lifetime, fed in batches."""

    def __init__(self, *, max_nodes: int = 10_000) -> None:
        self.tree = TemplateTree(max_nodes=max_nodes)
        self._known: set[tuple[str, str]] = set()  # (method, template) given out before

    def fold(self, requests: Sequence[tuple[str, str]], dropped: int = 0) -> Fold:
        """Add ``requests`` to the tree; the requests each template served among them,
        scaled by ``dropped`` (requests counted but not kept, like the kept ones)."""
        if not requests:  # a quiet interval: nothing learnt, nothing to rename
            return Fold({})
        for method, path in requests:
            self.tree.add(method, path)
        routes = self.tree.entries()
        index = _Index(routes)
        counts: dict[tuple[str, str], int] = {}
        for method, path in requests:
            key = (method.upper(), index.find(path) or OTHER)
            counts[key] = counts.get(key, 0) + 1
        current = {(m, r.path) for r in routes for m in r.methods if len(r.path) <= MAX_TEMPLATE}
        renames = {}
        for method, old in sorted(self._known - current):
            new = index.find(old)
            if new is not None and (method, new) in current:
                renames[(method, old)] = new
        self._known = current
        return Fold(_scaled(counts, dropped), renames)


def regroup(counts: Mapping[tuple[str, str], int]) -> dict[tuple[str, str], str]:
    """The template each stored ``(method, template)`` falls under when the templates of
    every process are inferred together: a word one worker kept (it saw few values there)
    joins the parameter the others made, or that the words of all of them make. A word that
    is a heavy hitter where it stands (5 % of the requests through its position, and 10) is
    read as a fixed one, as a process's tree keeps it.

    >>> slugs = [f"{a}-{b}-news" for a in "abcdefghij" for b in "klmnopqrst"]
    >>> worker_1 = {("GET", f"/articles/{slug}"): 1 for slug in slugs[:60]}  # 60: words
    >>> worker_2 = {("GET", "/articles/{article}"): 80}  # it saw more of them
    >>> sorted(set(regroup(worker_1 | worker_2 | {("GET", "/articles/export"): 50}).values()))
    ['/articles/export', '/articles/{article}']
    """
    shapes = {key: tuple("{}" if s[:1] == "{" else s for s in _segments(key[1])) for key in counts}
    through: dict[tuple[str, ...], int] = {}  # requests through each position, by shape
    for key, n in counts.items():
        for i in range(len(shapes[key]) + 1):
            through[shapes[key][:i]] = through.get(shapes[key][:i], 0) + n
    tree = TemplateTree()
    # busiest first: a heavy hitter is a word before its position turns into a parameter
    for (method, template), n in sorted(counts.items(), key=lambda kv: -kv[1]):
        parts = shapes[(method, template)]
        if all(
            word == "{}" or through[parts[: i + 1]] >= max(10, through[parts[:i]] // 20)
            for i, word in enumerate(parts)
        ):
            tree.add(method, template, 0)  # its words are fixed ones
        tree.add(method, template, n)
    index = _Index(tree.entries())
    return {key: index.find(key[1]) or key[1] for key in counts}


def _scaled(counts: dict[tuple[str, str], int], dropped: int) -> dict[tuple[str, str], int]:
    """``counts`` scaled so they add up to their sum plus ``dropped``, each in proportion
    (largest remainders get the rounding), and over-long templates counted as OTHER."""
    kept = sum(counts.values())
    out: dict[tuple[str, str], int] = {}
    for (method, template), n in counts.items():
        key = (method, template if len(template) <= MAX_TEMPLATE else OTHER)
        out[key] = out.get(key, 0) + n
    if not dropped or not kept:
        return out
    total = kept + dropped
    exact = {key: n * total / kept for key, n in out.items()}
    scaled = {key: int(x) for key, x in exact.items()}
    short = total - sum(scaled.values())
    for key in sorted(exact, key=lambda k: scaled[k] - exact[k])[:short]:
        scaled[key] += 1
    return scaled


@dataclass(slots=True)
class _Step:
    literals: dict[str, _Step] = field(default_factory=dict)
    param: _Step | None = None
    template: str | None = None  # a template ends here


class _Index:
    """The templates as a tree of segments: which template a path (or an older template)
    falls under, a fixed word before a parameter, as the proxy matches routes."""

    def __init__(self, routes: Iterable[DiscoveredRoute]) -> None:
        self.root = _Step()
        for r in routes:
            node = self.root
            for segment in _segments(r.path):
                if segment.startswith("{"):
                    node.param = node.param or _Step()
                    node = node.param
                else:
                    node = node.literals.setdefault(segment, _Step())
            node.template = r.path

    def find(self, path: str) -> str | None:
        cut = path.find("?")
        return self._walk(self.root, _segments(path if cut < 0 else path[:cut]), 0)

    def _walk(self, node: _Step, segments: list[str], i: int) -> str | None:
        if i == len(segments):
            return node.template
        literal = None if segments[i].startswith("{") else node.literals.get(segments[i])
        if literal is not None:
            found = self._walk(literal, segments, i + 1)
            if found is not None:
                return found
        return None if node.param is None else self._walk(node.param, segments, i + 1)


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]
