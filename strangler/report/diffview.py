"""One side-by-side view of two answers, with the differing places marked.

Used by the dashboard's route page and by the HTML report (one component: this module
builds the view, ``templates/_diff.html.j2`` draws it). A JSON body is pretty-printed
line by line, each line knowing its JSON path, so the lines at or under a differing path
(``$.items[3].price``) are marked; a text body is compared line by line. Long bodies are
folded (``folded``), never cut.

>>> view = side_by_side(("legacy", 200, '{"a": 1, "b": 2}'), ("new", 200, '{"a": 1, "b": 3}'),
...                     ["$.b"])
>>> [(text, marked) for text, marked in view.sides[1].lines]
[('{', False), ('  "a": 1,', False), ('  "b": 3', True), ('}', False)]
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from shadow.paths import PathSyntaxError, parse_path

__all__ = ["FOLD_LINES", "DiffSide", "DiffView", "side_by_side"]

FOLD_LINES = 60
"""Bodies longer than this are folded (a click unfolds them)."""

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class DiffSide:
    name: str
    status: int | str | None
    lines: tuple[tuple[str, bool], ...]  # (text, marked)

    @property
    def marked(self) -> int:
        return sum(1 for _, m in self.lines if m)


@dataclass(frozen=True, slots=True)
class DiffView:
    sides: tuple[DiffSide, DiffSide]
    folded: bool
    marked: int  # marked lines on both sides


def _paths(paths: Iterable[str]) -> list[Path]:
    out: list[Path] = []
    for text in paths:
        try:
            segments = parse_path(text).segments
        except PathSyntaxError:
            continue
        if all(isinstance(s, str | int) for s in segments):
            out.append(tuple(s for s in segments if isinstance(s, str | int)))
    return out


def _json_lines(
    value: Any, path: Path, indent: int, lead: str, tail: str
) -> list[tuple[str, Path]]:
    pad = "  " * indent
    if isinstance(value, dict) and value:
        out = [(f"{pad}{lead}{{", path)]
        items = list(value.items())
        for i, (k, v) in enumerate(items):
            comma = "," if i < len(items) - 1 else ""
            out += _json_lines(v, (*path, k), indent + 1, f"{json.dumps(k)}: ", comma)
        return [*out, (f"{pad}}}{tail}", path)]
    if isinstance(value, list) and value:
        out = [(f"{pad}{lead}[", path)]
        for i, v in enumerate(value):
            out += _json_lines(v, (*path, i), indent + 1, "", "," if i < len(value) - 1 else "")
        return [*out, (f"{pad}]{tail}", path)]
    return [(f"{pad}{lead}{json.dumps(value, ensure_ascii=False)}{tail}", path)]


def _under(path: Path, marks: Sequence[Path]) -> bool:
    return any(path[: len(m)] == m for m in marks if m)


def _side(body: str, marks: Sequence[Path]) -> tuple[list[tuple[str, bool]], bool]:
    """The body's lines, marked; False when it is not JSON (compared line by line)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return [(line, False) for line in body.splitlines() or [""]], False
    if not marks:  # the whole document differs ($), or a header: nothing to point at
        return [(text, False) for text, _ in _json_lines(doc, (), 0, "", "")], True
    return [(text, _under(p, marks)) for text, p in _json_lines(doc, (), 0, "", "")], True


def side_by_side(
    legacy: tuple[str, int | str | None, str],
    new: tuple[str, int | str | None, str],
    paths: Iterable[str],
) -> DiffView:
    """``(side name, status, body)`` of each answer, and the differing concrete paths."""
    marks = _paths(paths)
    left, left_json = _side(legacy[2], marks)
    right, right_json = _side(new[2], marks)
    if not (left_json and right_json):  # text: mark the lines that differ
        size = max(len(left), len(right))
        left += [("", False)] * (size - len(left))
        right += [("", False)] * (size - len(right))
        pairs = [(a[0] != b[0]) for a, b in zip(left, right, strict=True)]
        left = [(t, m) for (t, _), m in zip(left, pairs, strict=True)]
        right = [(t, m) for (t, _), m in zip(right, pairs, strict=True)]
    marked = sum(m for _, m in left) + sum(m for _, m in right)
    folded = max(len(left), len(right)) > FOLD_LINES
    return DiffView(
        (DiffSide(legacy[0], legacy[1], tuple(left)), DiffSide(new[0], new[1], tuple(right))),
        folded,
        marked,
    )
