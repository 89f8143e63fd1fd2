"""``strangler serve``: run the proxy under uvicorn (127.0.0.1 unless told otherwise)."""

from __future__ import annotations

import copy
import os
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from strangler.cli._options import DEFAULT_CONFIG, ConfigOption
from strangler.cli._route_cmds import load_overview, print_routes

if TYPE_CHECKING:
    from strangler.proxy._app import ServerSettings

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
    import shutil
    import tempfile

    import uvicorn

    from strangler.app import CONFIG_ENV, RUN_DIR_ENV, create_app
    from strangler.config import load_config
    from strangler.control import open_store
    from strangler.proxy import SERVER_SETTINGS

    level = log_level.lower()
    if level not in LOG_LEVELS:
        raise typer.BadParameter(
            f"{log_level!r}; use one of {', '.join(LOG_LEVELS)}", param_hint="--log-level"
        )
    cfg = load_config(config)
    check_address(host, port)  # before anything starts: no banner, no admin side
    open_store(cfg).close()  # schema upgraded once here, before any worker starts
    console = Console(highlight=False, soft_wrap=True)
    shown = f"[{host}]" if ":" in host else host
    console.print(
        f"strangler proxy on [bold]http://{shown}:{port}[/] "
        f"({workers} worker{'s' if workers > 1 else ''}; legacy {cfg.legacy.target}, "
        f"new {cfg.new.target}; store {_safe(cfg.store)})"
    )
    print_routes(console, load_overview(cfg))
    # uvicorn keeps its hands off the proxy's headers and client address (see the proxy)
    settings: ServerSettings = {**SERVER_SETTINGS, "access_log": access_log}
    if workers > 1:
        # Each worker process builds its own app through the import-string factory; they
        # share their counters and elect the admin side's leader through a private
        # directory (0700), removed when the server stops.
        run_dir = tempfile.mkdtemp(prefix="strangler-serve-")
        os.environ[CONFIG_ENV] = str(config.resolve())
        os.environ[RUN_DIR_ENV] = run_dir
        try:
            uvicorn.run(
                "strangler.app:app_from_env",
                factory=True,
                workers=workers,
                host=host,
                port=port,
                log_level=level,
                log_config=_log_config(level, cfg.rules.redact.fields),
                lifespan="on",
                **settings,
            )
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)
    else:
        uvicorn.run(
            create_app(cfg),
            host=host,
            port=port,
            log_level=level,
            log_config=_log_config(level, cfg.rules.redact.fields),
            lifespan="on",
            **settings,
        )
    return 0


def check_address(host: str, port: int) -> None:
    """Raise :class:`~strangler.ListenError` when ``host:port`` cannot be listened on
    (in use, a host name that does not resolve, a privileged port)."""
    import errno
    import socket

    from strangler._errors import ListenError

    if port == 0:
        return  # any free port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind((host, port))
        except OSError as exc:
            in_use = exc.errno == errno.EADDRINUSE
            raise ListenError(host, port, exc.strerror or str(exc), in_use=in_use) from None


def _log_config(level: str, redact_fields: tuple[str, ...] = ()) -> dict[str, Any]:
    """uvicorn's logging setup, plus strangler's own loggers on the same handler, and the
    access log's secrets removed (every worker process applies it)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact"] = {
        "()": "strangler.proxy._access_log.RedactedAccessLog",
        "fields": list(redact_fields),
    }
    config["handlers"]["access"]["filters"] = ["redact"]
    config["loggers"]["strangler"] = {
        "handlers": ["default"],
        "level": "DEBUG" if level == "trace" else level.upper(),
        "propagate": False,
    }
    return config


def _safe(url: str) -> str:
    from strangler.store.urls import safe_url

    return safe_url(url)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
