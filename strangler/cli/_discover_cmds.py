"""``strangler discover`` (endpoints from access logs, HAR files and OpenAPI) and
``strangler surface`` (every endpoint of the legacy surface, declared or not)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from strangler.cli._options import DEFAULT_CONFIG, ConfigOption, JsonOption, output_console

_BIG = 32 << 20  # logs from this size on get a progress bar (on a terminal)


@contextmanager
def _progress_bar(files: list[Path]) -> Iterator[Callable[[Path, int, int], None] | None]:
    """A progress bar on stderr while big logs are read, when stdout is a terminal."""
    sizes = {p: p.stat().st_size for p in files if p.is_file()}
    if not sys.stdout.isatty() or sum(sizes.values()) < _BIG:
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    tasks = {p: bar.add_task(p.name, total=size) for p, size in sizes.items()}
    with bar:
        yield lambda path, done, _: bar.update(tasks[path], completed=done)


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
    include_404: Annotated[
        bool, typer.Option("--include-404", help="count requests answered 404 too")
    ] = False,
    method_key: Annotated[
        str | None, typer.Option("--method-key", help="JSON lines: the method's key (a.b nests)")
    ] = None,
    path_key: Annotated[
        str | None, typer.Option("--path-key", help="JSON lines: the path's or URL's key")
    ] = None,
    status_key: Annotated[
        str | None, typer.Option("--status-key", help="JSON lines: the status's key")
    ] = None,
    as_json: JsonOption = False,
) -> int:
    """Infer the endpoints of the legacy surface and print route entries ready to paste.

    Example: strangler discover /var/log/nginx/access.log -c strangler.yaml --undeclared
    """
    from strangler.config import load_config
    from strangler.discovery import JsonKeys, routes_yaml
    from strangler.discovery import discover as run

    cfg = load_config(config) if config is not None else None
    err = Console(stderr=True, highlight=False, soft_wrap=True)  # the YAML owns stdout
    default = JsonKeys()
    keys = JsonKeys(
        (method_key,) if method_key else default.method,
        (path_key,) if path_key else default.path,
        (status_key,) if status_key else default.status,
    )
    with _progress_bar(files) as progress:
        found = run(
            files,
            fmt=fmt,
            config=cfg,
            include_404=include_404,
            keys=keys,
            on_file=lambda path, kind: (
                err.print(f"reading {path} as {kind}", style="dim") if not as_json else None
            ),
            progress=progress,
        )
    if as_json:
        typer.echo(json.dumps(found.to_json(), indent=2))
        return 0
    routes = found.undeclared if only_new else found.routes
    typer.echo(routes_yaml(routes), nl=False)
    for name, stats in found.files.items():
        note = f"{name}: {stats.requests:,} requests from {stats.lines:,} lines"
        if stats.not_found:
            note += f", {stats.not_found:,} answered 404 left out (--include-404 keeps them)"
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


def surface(
    config: ConfigOption = DEFAULT_CONFIG,
    logs: Annotated[
        list[Path] | None,
        typer.Option(
            "--from", help="access logs, HAR files or OpenAPI documents: endpoints undeclared"
        ),
    ] = None,
    idle: Annotated[
        str, typer.Option(help="no traffic for this long makes a retirement candidate")
    ] = "7d",
    as_json: JsonOption = False,
) -> int:
    """Every endpoint of the legacy surface: mode, traffic share, last seen, next step.

    Example: strangler surface -c strangler.yaml --from /var/log/nginx/access.log
    """
    from datetime import timedelta

    from rich.table import Table

    from strangler.config import duration_option, load_config
    from strangler.control import legacy_surface, open_store

    idle_for = timedelta(seconds=duration_option("--idle", idle))
    cfg = load_config(config)
    store = open_store(cfg)
    try:
        found = legacy_surface(cfg, store, logs=logs or (), idle=idle_for)
    finally:
        store.close()
    data = found.to_json()
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return 0
    table = Table(title="the legacy surface", title_justify="left")
    for column in ("endpoint", "mode", "day", "week", "logs", "last seen", "next step"):
        table.add_column(column, overflow="fold")
    for e in data["entries"]:
        table.add_row(
            e["route"] + _label(e),
            e["mode"],
            _share(e["share_day"]),
            _share(e["share_week"]),
            _share(e["log_share"]),
            (e["last_seen"] or "-")[:16].replace("T", " "),
            e["next_step"],
        )
    console = output_console()
    console.print(table)
    console.print(
        f"{data['declared']} of {data['endpoints']} endpoints declared; "
        f"{len(data['retirement_candidates'])} retirement candidates (no traffic for {idle})"
    )
    return 0


def _label(entry: dict[str, Any]) -> str:
    """How the table marks an endpoint no route declares, and who found it."""
    if entry["declared"]:
        return ""
    return "  (discovered)" if entry["source"].startswith("live") else "  (undeclared)"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def register(app: typer.Typer) -> None:
    app.command("discover")(discover)
    app.command("surface")(surface)
