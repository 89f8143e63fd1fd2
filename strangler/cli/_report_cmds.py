"""``strangler report``: the shadow report (a thin shell over :mod:`strangler.report`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from strangler._errors import ConfigError
from strangler.cli._options import DEFAULT_CONFIG, ConfigOption, JsonOption
from strangler.report.render import FORMATS


def report(
    config: ConfigOption = DEFAULT_CONFIG,
    route: Annotated[
        str | None, typer.Option("--route", "-r", help="one route, e.g. 'GET /orgs/{slug}'")
    ] = None,
    since: Annotated[str, typer.Option("--since", help="window: 30m, 1h, 2d, 1h30m")] = "1h",
    fmt: Annotated[
        str, typer.Option("--format", "-f", help=f"output format: {', '.join(FORMATS)}")
    ] = "table",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write to this file (default: stdout)")
    ] = None,
    as_json: JsonOption = False,
    top: Annotated[
        int, typer.Option("--top", min=1, help="differing fields shown per route (worst first)")
    ] = 10,
    show_all: Annotated[bool, typer.Option("--all", help="every differing field")] = False,
) -> int:
    """What shadow traffic found, per route: match rate, noise, mismatches by severity,
    top differing fields with an example, latency legacy vs new, suggested rules."""
    from strangler.config import load_config
    from strangler.control import open_store
    from strangler.report import build_report, parse_since, render

    if as_json:
        if fmt not in ("table", "json"):
            raise ConfigError("--json", f"--format {fmt}", "one of --json or --format, not both")
        fmt = "json"  # --json is the one flag every data command takes
    if fmt not in FORMATS:
        raise ConfigError("--format", fmt, f"one of {', '.join(FORMATS)}")
    window = parse_since(since)
    cfg = load_config(config)
    key = cfg.route(route).key if route is not None else None
    store = open_store(cfg)
    try:
        limit = None if show_all else top  # status and schema fields are never capped
        text = render(build_report(store, cfg, route=key, since=window, top=limit), fmt)
    finally:
        store.close()
    if output is None:
        typer.echo(text, nl=False)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ConfigError("--output", str(output), f"a writable file ({exc.strerror})") from exc
        typer.echo(f"report written to {output}")
    return 0


def register(app: typer.Typer) -> None:
    app.command("report")(report)
