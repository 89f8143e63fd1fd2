"""The demo's output: numbered steps, notes for skipped steps, and the ``strangler``
commands it runs (in-process, through the same ``main`` as the console script)."""

from __future__ import annotations

import contextlib
import io
import shlex
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["Narrator", "StepResult", "run_strangler"]


def run_strangler(args: list[str], console: Console, *, quiet: bool = False) -> tuple[int, str]:
    """Run ``strangler ARGS`` in this process, as the console script would.

    Shown as it runs; with ``quiet`` its output is captured instead (to parse ``--json``).
    Returns the exit code and the captured output.
    """
    from strangler.cli import main

    if not quiet:
        console.print(Text("$ strangler " + shlex.join(args), style="bold cyan"))
        console.file.flush()
        return main(args), ""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        code = main(args)
    return code, buffer.getvalue()


@dataclass
class StepResult:
    title: str
    status: str  # done | caveat (done, but a gate failed or a flip was forced) | skipped | failed
    note: str = ""


@dataclass
class Narrator:
    """Numbered steps with timings; the summary table at the end lists what was skipped."""

    console: Console
    results: list[StepResult] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[StepResult]:
        number = len(self.results) + 1
        self.console.rule(f"[bold]{number}. {title}", align="left")
        result = StepResult(title, "done")
        self.results.append(result)
        t0 = time.monotonic()
        try:
            yield result
        except BaseException:
            result.status = "failed"
            raise
        finally:
            if result.status in ("done", "caveat"):
                self.console.print(f"[dim]({time.monotonic() - t0:.1f} s)[/]")

    def note(self, text: str) -> None:
        """A caveat of the current step (a gate that failed, a flip that had to be forced):
        printed now, and the final table says the step is "done, with a caveat"."""
        self.console.print(f"[yellow]note:[/] {text}")
        if self.results and self.results[-1].status == "done":
            current = self.results[-1]
            current.status = "caveat"
            current.note = (current.note + "; " if current.note else "") + text

    def ok(self, text: str) -> None:
        self.console.print(f"[green]✔[/] {text}")

    def summary(self, out: Path) -> None:
        table = Table(title=f"demo finished in {time.monotonic() - self.started:.0f} s")
        for column in ("#", "step", "result", "note"):
            table.add_column(column)
        colours = {"done": "green", "caveat": "yellow", "skipped": "yellow", "failed": "red"}
        shown = {"caveat": "done, with a caveat"}
        for i, r in enumerate(self.results, start=1):
            status = shown.get(r.status, r.status)
            table.add_row(str(i), r.title, f"[{colours[r.status]}]{status}[/]", r.note)
        self.console.print(table)
        self.console.print(f"reports and logs kept in [bold]{out}[/]")
