"""Every ``strangler ...`` command shown in the docs parses with the real CLI.

The commands are taken from the fenced blocks of README.md and docs/**/*.md (shell and
console blocks, CI files' ``run:`` steps), resolved to their subcommand and parsed by click
with ``resilient_parsing=False``: an unknown option, a missing argument or a bad choice
fails the test with the page and line that show it.
"""

from __future__ import annotations

import functools
import re
import subprocess
import sys
from dataclasses import dataclass

import pytest
from typer._click import Command, Context
from typer._click.exceptions import UsageError
from typer.core import TyperGroup
from typer.exceptions import Exit

from tests.docs.codeblocks import (
    ROOT,
    Block,
    blocks,
    doc_files,
    pytest_args,
    shell_lines,
    simple_commands,
    strangler_args,
)
from tools.docgen import root_command


@dataclass(frozen=True)
class Shown:
    block: Block
    line: str
    args: list[str]

    def __str__(self) -> str:
        return f"{self.block.where}: {self.line}"


def _shown(pick: str) -> list[Shown]:
    found = []
    for path in doc_files():
        for block in blocks(path):
            for line in shell_lines(block):
                for words in simple_commands(line):
                    args = strangler_args(words) if pick == "strangler" else pytest_args(words)
                    if args is not None:
                        found.append(Shown(block, line, args))
    return found


STRANGLER = _shown("strangler")
PYTEST = _shown("pytest")


@functools.cache
def _root() -> TyperGroup:
    return root_command()


def parse(args: list[str]) -> str:
    """Parse like the CLI does; returns the resolved command path, raises UsageError."""
    root = _root()
    ctx = Context(root, info_name="strangler", resilient_parsing=False)
    cmd: Command = root
    path = ["strangler"]
    rest = list(args)
    while isinstance(cmd, TyperGroup):
        if not rest or rest[0] in ("--help", "-h"):
            return " ".join(path)
        name = rest.pop(0)
        sub = cmd.commands.get(name)
        if sub is None:
            raise UsageError(f"no command {name!r} under {' '.join(path)}")
        path.append(name)
        cmd = sub
        ctx = Context(cmd, info_name=name, parent=ctx, resilient_parsing=False)
    try:
        cmd.make_context(path[-1], rest, parent=ctx.parent, resilient_parsing=False)
    except Exit as exc:  # --help
        if exc.exit_code != 0:
            raise UsageError(f"exit {exc.exit_code}") from exc
    return " ".join(path)


def test_the_docs_show_commands_of_every_area() -> None:
    """The extraction works: it finds the commands the pages are known to show."""
    used = {parse(s.args) for s in STRANGLER}
    for expected in (
        "strangler flip",
        "strangler serve",
        "strangler backfill",
        "strangler verify",
        "strangler load",
        "strangler record",
        "strangler parity",
        "strangler corpus import-har",
        "strangler kill-switch",
        "strangler db upgrade",
    ):
        assert expected in used, f"no page shows {expected!r}"
    assert len(STRANGLER) > 60


@pytest.mark.parametrize("shown", STRANGLER, ids=str)
def test_each_strangler_command_in_the_docs_parses(shown: Shown) -> None:
    try:
        parse(shown.args)
    except UsageError as exc:
        pytest.fail(f"{shown}\n  does not parse: {exc.format_message()}")


def test_the_parser_refuses_what_the_cli_refuses() -> None:
    """The check above can fail: unknown options, missing arguments and bad choices."""
    for bad in (
        ["flip", "GET /x", "--to", "new", "--percentage", "5"],
        ["flip", "--to", "new"],
        ["kill-switch", "maybe"],
        ["backfil", "orders"],
        ["db", "downgrade"],
    ):
        with pytest.raises(UsageError):
            parse(bad)


@pytest.fixture(scope="module")
def pytest_help() -> str:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"],
        cwd=ROOT / "docs",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_every_parity_option_shown_in_the_docs_exists(pytest_help: str) -> None:
    assert PYTEST, "the docs show the parity plugin's pytest command"
    declared = set(re.findall(r"--parity-[a-z-]+", pytest_help))
    for shown in PYTEST:
        for option in re.findall(r"--parity-[a-z-]+", " ".join(shown.args)):
            assert option in declared, f"{shown}\n  {option} is not a pytest option"
