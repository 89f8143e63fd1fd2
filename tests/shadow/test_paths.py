"""The one rule-path syntax: parsing, rendering, exact segment matching."""

from __future__ import annotations

import pytest

from shadow._matcher import PathMatcher
from shadow.paths import (
    ANY_INDEX,
    ANY_KEY,
    DESCEND,
    Keyed,
    PathSyntaxError,
    generalise,
    parse_path,
    render_path,
)


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("$", ()),
        ("$.a.b", ("a", "b")),
        ("$.list[0]", ("list", 0)),
        ("$.items[*].updated_at", ("items", ANY_INDEX, "updated_at")),
        ("$.*", (ANY_KEY,)),
        ("$..id", (DESCEND, "id")),
        ("$..[*]", (DESCEND, ANY_INDEX)),
        ("$['a.b'][\"c d\"]", ("a.b", "c d")),
    ],
)
def test_parse(text: str, segments: tuple[object, ...]) -> None:
    assert parse_path(text).segments == segments


@pytest.mark.parametrize("bad", ["items.id", "$.a[", "$.a..", "$[x]", "$.a b"])
def test_bad_paths_are_refused_with_the_path_named(bad: str) -> None:
    with pytest.raises(PathSyntaxError, match="path"):
        parse_path(bad)


def test_render_and_generalise() -> None:
    assert render_path(("items", 3, "a.b", Keyed("id", 7))) == "$.items[3]['a.b'][id=7]"
    assert generalise(("items", 3, "price")) == "$.items[*].price"
    assert generalise(("items", Keyed("id", "x"), "price")) == "$.items[*].price"


def _matches(pattern: str, path: tuple[str | int, ...]) -> bool:
    return bool(PathMatcher([(parse_path(pattern), True)]).match(path))


def test_exact_segments_never_substrings() -> None:
    # Keploy's noise paths match by substring; ours must not.
    assert _matches("$.items[*].id", ("items", 0, "id"))
    assert not _matches("$.items[*].id", ("items", 0, "idempotency_key"))
    assert not _matches("$.items[*].id", ("items", 0, "user_id"))
    assert not _matches("$.item", ("items",))


def test_wildcards_and_descent() -> None:
    assert _matches("$.*", ("a",))
    assert not _matches("$.*", (0,))
    assert _matches("$.list[*]", ("list", 5))
    assert not _matches("$.list[*]", ("list", "5"))
    assert _matches("$.list[2]", ("list", 2))
    assert not _matches("$.list[2]", ("list", 3))
    assert _matches("$..id", ("id",))
    assert _matches("$..id", ("a", 3, "b", "id"))
    assert not _matches("$..id", ("a", "ids"))
    assert _matches("$.a..c", ("a", "b", "c"))
    assert not _matches("$.a..c", ("x", "b", "c"))
