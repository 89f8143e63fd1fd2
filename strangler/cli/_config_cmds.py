"""``strangler check`` and ``strangler schema``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from strangler.cli._options import DEFAULT_CONFIG, ConfigOption


def check(config: ConfigOption = DEFAULT_CONFIG) -> int:
    """Validate a config file; every problem names the file, key, value and what was expected."""
    from rich.console import Console

    from strangler.cli._preflight import preflight
    from strangler.config import load_config

    cfg = load_config(config)
    preflight(cfg)
    modes: dict[str, int] = {}
    for r in cfg.routes:
        modes[r.mode] = modes.get(r.mode, 0) + 1
    summary = ", ".join(f"{n} {m}" for m, n in sorted(modes.items())) or "no routes"
    Console(highlight=False).print(f"{config}: OK ({len(cfg.routes)} routes: {summary})")
    return 0


def schema(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write to this file instead of stdout")
    ] = None,
) -> int:
    """Print the JSON Schema of the config file (for editor completion)."""
    from strangler.config import config_schema

    text = json.dumps(config_schema(), indent=2, sort_keys=True)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
    return 0


def register(app: typer.Typer) -> None:
    app.command("check")(check)
    app.command("schema")(schema)
