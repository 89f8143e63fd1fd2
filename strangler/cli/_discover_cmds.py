"""``strangler discover``: the legacy surface from access logs, HAR files and OpenAPI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from strangler.cli._options import JsonOption


def discover(
    files: Annotated[
        list[Path], typer.Argument(help="access logs, HAR files or OpenAPI documents")
    ],
    fmt: Annotated[
        str,
        typer.Option(
            "--format", help="auto, combined (nginx/Apache), w3c (IIS), jsonl, har or openapi"
        ),
    ] = "auto",
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="mark the endpoints this config already declares"),
    ] = None,
    only_new: Annotated[
        bool, typer.Option("--undeclared", help="print only endpoints the config lacks")
    ] = False,
    as_json: JsonOption = False,
) -> int:
    """Infer the endpoints of the legacy surface and print route entries ready to paste.

    Example: strangler discover /var/log/nginx/access.log -c strangler.yaml --undeclared
    """
    from strangler.config import load_config
    from strangler.discovery import discover as run
    from strangler.discovery import routes_yaml

    cfg = load_config(config) if config is not None else None
    err = Console(stderr=True, highlight=False, soft_wrap=True)  # the YAML owns stdout
    found = run(
        files,
        fmt=fmt,
        config=cfg,
        on_file=lambda path, kind: (
            err.print(f"reading {path} as {kind}", style="dim") if not as_json else None
        ),
    )
    if as_json:
        typer.echo(json.dumps(found.to_json(), indent=2))
        return 0
    routes = found.undeclared if only_new else found.routes
    typer.echo(routes_yaml(routes), nl=False)
    for name, stats in found.files.items():
        note = f"{name}: {stats.requests:,} requests from {stats.lines:,} lines"
        if stats.unreadable:
            note += f", {stats.unreadable:,} unreadable (first: {stats.example!r})"
        err.print(f"# {note}", markup=False, highlight=False)
    if found.other:
        err.print(f"# {found.other:,} requests over the template bound, counted as 'other'")
    if cfg is not None:
        err.print(
            f"# {len(found.routes) - len(found.undeclared)} of {len(found.routes)} endpoints "
            f"already declared in {config}"
        )
    return 0


def register(app: typer.Typer) -> None:
    app.command("discover")(discover)
