"""Relative links between the pages point at files and headings that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.docs.codeblocks import ROOT, doc_files

LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCED = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1", re.S | re.M)


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors of a page, and its explicit ``<a id>`` anchors."""
    text = FENCED.sub("", page.read_text(encoding="utf-8"))
    out = set(re.findall(r'<a id="([^"]+)"', text))
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        out.add(slug)
    return out


def links() -> list[tuple[Path, str]]:
    found = []
    for page in doc_files():
        text = FENCED.sub("", page.read_text(encoding="utf-8"))
        for target in LINK.findall(text):
            if not target.startswith(("http://", "https://", "mailto:")):
                found.append((page, target))
    return found


@pytest.mark.parametrize(
    ("page", "target"),
    links(),
    ids=lambda v: str(v.relative_to(ROOT)) if isinstance(v, Path) else v,
)
def test_relative_link_resolves(page: Path, target: str) -> None:
    file, _, anchor = target.partition("#")
    dest = (page.parent / file).resolve() if file else page
    assert dest.exists(), f"{page.relative_to(ROOT)}: {target} does not exist"
    if anchor and dest.is_file() and dest.suffix == ".md":
        assert anchor in anchors(dest), f"{page.relative_to(ROOT)}: no heading #{anchor} in {file}"
