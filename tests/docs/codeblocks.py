"""Fenced code blocks of the docs, and the shell commands written in them.

A fence's info string is its language and optional words: ```` ```bash run ```` marks a
block that a recipe test executes, ```` ```yaml file=strangler.yaml ```` a file it writes
before running the recipe's blocks. Renderers show only the language.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
SHELL_LANGS = {"bash", "sh", "shell", "console", "text", ""}
SEPARATORS = {"|", "||", "&", "&&", ";", ";;", "(", ")", ">", ">>", "<", "2>", "|&"}


@dataclass(frozen=True, slots=True)
class Block:
    """One fenced block: where it is, its language, the extra words, and its text."""

    path: Path
    line: int
    lang: str
    words: tuple[str, ...]
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    def option(self, name: str) -> str | None:
        """The value of ``name=value`` in the info string."""
        for word in self.words:
            key, sep, value = word.partition("=")
            if sep and key == name:
                return value
        return None


def doc_files() -> list[Path]:
    """README.md, examples/README.md and every page under docs/ (recipes included)."""
    return [
        ROOT / "README.md",
        ROOT / "examples" / "README.md",
        *sorted((ROOT / "docs").rglob("*.md")),
    ]


def blocks(path: Path) -> Iterator[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence = match["indent"], match["fence"]
        info = match["info"].split()
        body: list[str] = []
        start = i + 1
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            line = lines[i]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            i += 1
        i += 1
        lang = info[0].lower() if info else ""
        yield Block(path, start, lang, tuple(info[1:]), "\n".join(body) + "\n")


def _balanced(text: str) -> bool:
    try:
        shlex.split(text, comments=True)
    except ValueError:  # no closing quotation: the command goes on on the next line
        return False
    return True


def _logical_lines(text: str) -> Iterator[str]:
    """Lines joined where they end in a backslash or inside a quoted string."""
    pending = ""
    for raw in text.splitlines():
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        pending += raw
        if _balanced(pending):
            yield pending
            pending = ""
        else:
            pending += "\n"
    if pending:
        yield pending


def _yaml_run_lines(text: str) -> Iterator[str]:
    """The shell lines of a CI file's ``run:`` steps (one line, or a ``run: |`` block)."""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = re.match(r"^(\s*)(?:-\s+)?run:\s*(.*)$", lines[i])
        i += 1
        if not match:
            continue
        value = match[2].strip()
        if value not in ("|", ">", "|-", ">-"):
            yield value
            continue
        block: list[str] = []
        while i < len(lines) and (
            not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > len(match[1])
        ):
            block.append(lines[i])
            i += 1
        yield from _logical_lines("\n".join(b.strip() for b in block))


_ALTERNATIVES = re.compile(r"\[([^\[\]]*)\]")


def _expand_synopsis(line: str) -> str:
    """``[--format table|md]`` -> ``--format table``: a synopsis checked in its longest form."""

    def first_choice(match: re.Match[str]) -> str:
        return re.sub(r"([\w.-]+)(?:\|[\w.-]+)+", r"\1", match[1])

    return _ALTERNATIVES.sub(first_choice, line)


def shell_lines(block: Block) -> Iterator[str]:
    """The command lines a reader would type, from a shell, console or CI block."""
    if block.lang == "yaml":
        yield from _yaml_run_lines(block.text)
        return
    if block.lang not in SHELL_LANGS:
        return
    for line in _logical_lines(block.text):
        stripped = line.strip()
        if block.lang == "console":
            if stripped.startswith("$ "):
                yield stripped[2:]
        elif block.lang in ("text", ""):
            if re.match(r"^(?:\$ )?(?:strangler|python -m strangler|pytest) ", stripped):
                yield stripped.removeprefix("$ ")
        else:
            yield stripped


def simple_commands(line: str) -> Iterator[list[str]]:
    """Split a shell line into simple commands (at pipes, ``&&``, ``;``, redirections)."""
    lexer = shlex.shlex(_expand_synopsis(line), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    current: list[str] = []
    skip_next = False
    for token in lexer:
        if token in SEPARATORS:
            if current:
                yield current
            current = []
            skip_next = token in (">", ">>", "<", "2>")
            continue
        if skip_next:
            skip_next = False
            continue
        current.append(token)
    if current:
        yield current


def strangler_args(words: list[str]) -> list[str] | None:
    """The arguments after ``strangler`` (or ``python -m strangler``), else None."""
    while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
        words = words[1:]  # VAR=value prefixes
    if not words:
        return None
    head = words[0].rsplit("/", 1)[-1]
    if head == "strangler":
        return words[1:]
    if head.startswith("python") and words[1:3] == ["-m", "strangler"]:
        return words[3:]
    return None


def pytest_args(words: list[str]) -> list[str] | None:
    while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
        words = words[1:]
    if words and words[0].rsplit("/", 1)[-1] == "pytest":
        return words[1:]
    if (
        words
        and words[0].rsplit("/", 1)[-1].startswith("python")
        and words[1:3]
        == [
            "-m",
            "pytest",
        ]
    ):
        return words[3:]
    return None
