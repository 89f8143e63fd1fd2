"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

ConfigOption = Annotated[
    Path,
    typer.Option("--config", "-c", help="the strangler YAML config", show_default=True),
]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable JSON output")]
DEFAULT_CONFIG = Path("strangler.yaml")

#: Columns of the tables printed to a pipe or a CI log (no terminal to measure): wide enough
#: that a route name is never cut into pieces. ``COLUMNS`` still wins when it is set.
PIPE_WIDTH = 240


def output_console() -> Console:
    """The console data commands print to: the terminal's width, ``COLUMNS``, or, on a
    pipe or in a CI log, :data:`PIPE_WIDTH` (rich's 80 would wrap every route name)."""
    import os
    import sys

    wide = not sys.stdout.isatty() and not os.environ.get("COLUMNS")
    return Console(highlight=False, soft_wrap=True, width=PIPE_WIDTH if wide else None)
