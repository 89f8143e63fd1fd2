"""Run a recipe page: write its ``file=`` blocks, then run its ``bash run`` blocks in order.

The blocks run as one ``bash -euo pipefail`` script in a temporary folder, with the
project's ``.venv/bin`` first on ``PATH``. Every well-known port the recipes show (8000,
8001, ...) is replaced by a free port of 127.0.0.1, and each test may substitute database
URLs. The script runs in its own process group, which is ended afterwards: servers a recipe
leaves in the background stop with it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import free_port
from tests.docs.codeblocks import ROOT, blocks

RECIPES = ROOT / "docs" / "recipes"
PORTS = re.compile(r"\b(8000|8001|8002|8010|8080|8099|5557)\b")


@dataclass(frozen=True)
class Recipe:
    files: dict[str, str]
    script: str


@dataclass(frozen=True)
class Run:
    returncode: int
    output: str
    folder: Path

    def explain(self) -> str:
        logs = [
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.folder.glob("*.log"))
        ]
        return "\n".join([f"exit {self.returncode}", self.output[-6000:], *logs])


def read_recipe(name: str) -> Recipe:
    files: dict[str, str] = {}
    script: list[str] = []
    for block in blocks(RECIPES / name):
        target = block.option("file")
        if target:
            files[target] = block.text
        elif "run" in block.words:
            script.append(block.text)
    assert script, f"{name} has no ```bash run``` block"
    return Recipe(files, "\n".join(script))


@dataclass
class Started:
    """A recipe running in the background; :meth:`wait` ends it and returns its run."""

    proc: subprocess.Popen[bytes]
    folder: Path
    deadline: float
    result: Run | None = None

    def wait(self) -> Run:
        if self.result is None:
            try:
                code = self.proc.wait(timeout=max(1.0, self.deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                code = -1
            finally:
                _end_group(self.proc.pid)
            output = (self.folder / "recipe.out").read_text(errors="replace")
            self.result = Run(code, output, self.folder)
        return self.result


def start_recipe(
    name: str,
    folder: Path,
    *,
    substitutions: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> Started:
    """Start the recipe ``docs/recipes/NAME`` in ``folder`` (its own process group)."""
    recipe = read_recipe(name)
    ports: dict[str, str] = {}

    def adapt(text: str) -> str:
        for old, new in (substitutions or {}).items():
            text = text.replace(old, new)
        return PORTS.sub(lambda m: ports.setdefault(m[1], str(free_port())), text)

    for file, text in recipe.files.items():
        (folder / file).parent.mkdir(parents=True, exist_ok=True)
        (folder / file).write_text(adapt(text), encoding="utf-8")
    script = folder / "recipe.sh"
    script.write_text(adapt(recipe.script), encoding="utf-8")
    full_env = {
        **os.environ,
        "PATH": f"{ROOT / '.venv' / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "STRANGLER_ACTOR": "docs-test",
        **(env or {}),
    }
    full_env.pop("PYTHONPATH", None)
    with (folder / "recipe.out").open("wb") as sink:
        proc = subprocess.Popen(
            ["bash", "-euo", "pipefail", str(script)],
            cwd=folder,
            env=full_env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Started(proc, folder, time.monotonic() + timeout)


def run_recipe(name: str, folder: Path, **kwargs: Any) -> Run:
    """Run the recipe to its end (see :func:`start_recipe`); never raises on a failed script."""
    return start_recipe(name, folder, **kwargs).wait()


def _end_group(pgid: int) -> None:
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
