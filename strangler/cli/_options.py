"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigOption = Annotated[
    Path,
    typer.Option("--config", "-c", help="the strangler YAML config", show_default=True),
]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable JSON output")]
DEFAULT_CONFIG = Path("strangler.yaml")
