"""Serving the proxy: what ``strangler serve`` does, as a typed function.

``serve_proxy(config, ServeOptions("127.0.0.1", 8000, workers=2))`` checks the address,
upgrades the store's schema once, prints the banner and the routes, and runs uvicorn
(one process, or ``workers`` processes sharing their counters and one admin leader)
until it is stopped. The CLI only parses options and calls it.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from strangler.config import Config
    from strangler.proxy._app import ServerSettings

__all__ = ["ServeOptions", "check_address", "log_config", "serve_proxy"]


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """Where and how ``strangler serve`` listens."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    log_level: str = "info"
    access_log: bool = False


def serve_proxy(
    cfg: Config,
    options: ServeOptions,
    *,
    config_path: Path,
    announce: Callable[[], None] | None = None,
) -> int:
    """Run the proxy of ``cfg`` until it is stopped; returns the exit code.

    ``config_path`` is the file ``cfg`` came from (worker processes read it again);
    ``announce`` runs once the address and the store are known good, before uvicorn
    starts (the CLI prints its banner and the routes there).
    """
    import uvicorn

    from strangler.app import create_app, settle_heap
    from strangler.control import open_store
    from strangler.proxy import SERVER_SETTINGS

    o = options
    check_address(o.host, o.port)  # before anything starts: no banner, no admin side
    open_store(cfg).close()  # schema upgraded once here, before any worker starts
    if announce is not None:
        announce()
    # uvicorn keeps its hands off the proxy's headers and client address (see the proxy)
    settings: ServerSettings = {**SERVER_SETTINGS, "access_log": o.access_log}
    common: dict[str, Any] = {
        "host": o.host,
        "port": o.port,
        "log_level": o.log_level,
        "log_config": log_config(o.log_level, cfg.rules.redact.fields),
        "lifespan": "on",
        **settings,
    }
    if o.workers == 1:
        proxy = create_app(cfg)
        proxy.on_startup.append(settle_heap)
        uvicorn.run(proxy, **common)
    else:
        _run_workers(config_path, o.workers, common)
    return 0


def _run_workers(config_path: Path, workers: int, common: dict[str, Any]) -> None:
    """Each worker process builds its own app through the import-string factory; they share
    their counters and elect the admin side's leader through a private directory (0700),
    removed when the server stops."""
    import uvicorn

    from strangler.app import CONFIG_ENV, RUN_DIR_ENV

    run_dir = tempfile.mkdtemp(prefix="strangler-serve-")
    os.environ[CONFIG_ENV] = str(config_path.resolve())
    os.environ[RUN_DIR_ENV] = run_dir
    try:
        uvicorn.run("strangler.app:app_from_env", factory=True, workers=workers, **common)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


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


def log_config(level: str, redact_fields: tuple[str, ...] = ()) -> dict[str, Any]:
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
