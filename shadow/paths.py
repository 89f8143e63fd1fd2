"""The one path syntax of comparison rules, and the concrete paths of differences.

A rule path starts at ``$`` (the whole document) and names fields segment by segment.
Segments match **exactly**, never by substring: ``$.items[*].id`` does not touch
``$.items[*].idempotency_key``.

=====================  ==============================================================
``$.a.b``              key ``b`` inside key ``a``
``$['a.b']``           a key that contains dots or brackets (quotes ``'`` or ``"``)
``$.list[0]``          the first element of ``list``
``$.list[*]``          every element of ``list``
``$.*``                every key of the object (not array elements)
``$..id``              key ``id`` at any depth (``..`` is zero or more segments)
``$..[*]``             every array element at any depth
=====================  ==============================================================

A concrete path (where a difference was found) renders the same way: ``$.items[3].price``;
an element of an array compared by key renders as ``$.items[id=7].price``. Its
*generalised* form replaces every index by ``[*]`` (``$.items[*].price``): noise statistics
and suggested rules are kept per generalised path.

>>> str(parse_path("$.items[*].updated_at"))
'$.items[*].updated_at'
>>> render_path(("items", 3, "price"))
'$.items[3].price'
>>> generalise(("items", 3, "price"))
'$.items[*].price'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "ANY_INDEX",
    "ANY_KEY",
    "DESCEND",
    "Keyed",
    "PathPattern",
    "PathSyntaxError",
    "Segment",
    "generalise",
    "parse_path",
    "render_both",
    "render_path",
]


class PathSyntaxError(ValueError):
    """A rule path that does not follow the syntax (names the path and the position)."""


class _Wild:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


ANY_KEY: Final = _Wild(".*")
ANY_INDEX: Final = _Wild("[*]")
DESCEND: Final = _Wild("..")


@dataclass(frozen=True, slots=True)
class Keyed:
    """A concrete path segment: the element of a keyed unordered array whose ``field`` is ``value``."""

    field: str
    value: Any

    def __str__(self) -> str:
        shown = repr(self.value) if isinstance(self.value, str) else str(self.value)
        return f"[{self.field}={shown}]"


# A pattern segment: a key (str), an index (int), or one of the three wildcards.
Segment = str | int | _Wild
# A concrete segment: a key, an index, or an element of a keyed array.
Concrete = str | int | Keyed

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-$@]+")
_TOKEN = re.compile(
    r"""
    (?P<descend>\.\.)
  | \.(?P<anykey>\*)
  | \.(?P<key>[A-Za-z0-9_\-$@]+)
  | \[(?P<anyindex>\*)\]
  | \[(?P<index>\d+)\]
  | \[(?P<quote>['"])(?P<qkey>(?:\\.|(?!(?P=quote)).)*)(?P=quote)\]
    """,
    re.VERBOSE,
)
_AFTER_DESCEND = re.compile(r"(?P<anykey>\*)|(?P<key>[A-Za-z0-9_\-$@]+)")


@dataclass(frozen=True, slots=True)
class PathPattern:
    """A parsed rule path: a tuple of segments (see the module docstring)."""

    text: str
    segments: tuple[Segment, ...]

    def __str__(self) -> str:
        return self.text

    @property
    def is_exact(self) -> bool:
        """True when the path has no wildcard (names one place)."""
        return all(isinstance(s, str | int) for s in self.segments)


def parse_path(text: str) -> PathPattern:
    """Parse a rule path; raises :class:`PathSyntaxError` naming what is wrong.

    >>> parse_path("$..id").segments
    (.., 'id')
    >>> parse_path("items.id")
    Traceback (most recent call last):
    ...
    shadow.paths.PathSyntaxError: path 'items.id' must start with '$' (e.g. '$.items[*].id')
    """
    src = text.strip()
    if not src.startswith("$"):
        raise PathSyntaxError(f"path {text!r} must start with '$' (e.g. '$.items[*].id')")
    segments: list[Segment] = []
    pos = 1
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if m is None:
            raise PathSyntaxError(
                f"path {text!r}: cannot read {src[pos:]!r} at position {pos} "
                "(use .name, ['name'], [0], [*], .* or ..name)"
            )
        pos = m.end()
        if m.group("descend"):
            segments.append(DESCEND)
            # `..name` / `..*`: the name follows the dots directly.
            follow = _AFTER_DESCEND.match(src, pos)
            if follow:
                pos = follow.end()
                segments.append(ANY_KEY if follow.group("anykey") else follow.group("key"))
            elif pos >= len(src) or src[pos] != "[":
                raise PathSyntaxError(f"path {text!r}: '..' must be followed by a name or [...]")
        elif m.group("anykey"):
            segments.append(ANY_KEY)
        elif m.group("key") is not None:
            segments.append(m.group("key"))
        elif m.group("anyindex"):
            segments.append(ANY_INDEX)
        elif m.group("index") is not None:
            segments.append(int(m.group("index")))
        else:
            segments.append(re.sub(r"\\(.)", r"\1", m.group("qkey")))
    return PathPattern(src, tuple(segments))


def _render_key(key: str) -> str:
    if _PLAIN_KEY.fullmatch(key):
        return f".{key}"
    escaped = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"['{escaped}']"


def render_path(segments: tuple[Concrete, ...] | list[Concrete]) -> str:
    """The text of a concrete path (``$`` for the whole document)."""
    out = ["$"]
    for seg in segments:
        if isinstance(seg, str):
            out.append(_render_key(seg))
        elif isinstance(seg, int):
            out.append(f"[{seg}]")
        else:
            out.append(str(seg))
    return "".join(out)


def generalise(segments: tuple[Concrete, ...] | list[Concrete]) -> str:
    """The concrete path with every array position replaced by ``[*]``."""
    out = ["$"]
    for seg in segments:
        out.append(_render_key(seg) if isinstance(seg, str) else "[*]")
    return "".join(out)


def render_both(segments: tuple[Concrete, ...] | list[Concrete]) -> tuple[str, str]:
    """``(render_path(segments), generalise(segments))`` in one pass."""
    concrete = ["$"]
    general = ["$"]
    for seg in segments:
        if type(seg) is str:
            text = f".{seg}" if _PLAIN_KEY.fullmatch(seg) else _render_key(seg)
            concrete.append(text)
            general.append(text)
        else:
            concrete.append(f"[{seg}]" if type(seg) is int else str(seg))
            general.append("[*]")
    return "".join(concrete), "".join(general)
