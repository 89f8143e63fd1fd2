"""``strangler serve``: run the proxy under uvicorn (127.0.0.1 unless told otherwise)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from strangler.cli._options import DEFAULT_CONFIG, ConfigOption
from strangler.cli._route_cmds import load_overview, print_routes

LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


def serve(
    config: ConfigOption = DEFAULT_CONFIG,
    host: Annotated[str, typer.Option("--host", help="address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="port")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            "-w",
            min=1,
            help="worker processes, acting as one proxy (summed metrics, one rollback monitor)",
        ),
    ] = 1,
    log_level: Annotated[
        str,
        typer.Option("--log-level", help=f"one of {', '.join(LOG_LEVELS)}", case_sensitive=False),
    ] = "info",
    access_log: Annotated[
        bool, typer.Option("--access-log", help="log every request (off: no line per request)")
    ] = False,
) -> int:
    """Run the routing proxy. Flips recorded in the store reach it within seconds.

    Example: strangler serve -c strangler.yaml --port 8000 --workers 4
    """
    from strangler.config import load_config
    from strangler.serving import ServeOptions, serve_proxy
    from strangler.store.urls import safe_url

    level = log_level.lower()
    if level not in LOG_LEVELS:
        raise typer.BadParameter(
            f"{log_level!r}; use one of {', '.join(LOG_LEVELS)}", param_hint="--log-level"
        )
    cfg = load_config(config)
    options = ServeOptions(host, port, workers=workers, log_level=level, access_log=access_log)

    def announce() -> None:
        console = Console(highlight=False, soft_wrap=True)
        shown = f"[{host}]" if ":" in host else host
        console.print(
            f"strangler proxy on [bold]http://{shown}:{port}[/] "
            f"({workers} worker{'s' if workers > 1 else ''}; legacy {cfg.legacy.target}, "
            f"new {cfg.new.target}; store {safe_url(cfg.store)})"
        )
        print_routes(console, load_overview(cfg))

    return serve_proxy(cfg, options, config_path=config, announce=announce)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
