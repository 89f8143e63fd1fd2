"""The proxy application, wired: config -> store -> proxy -> live-state watcher.

``create_app`` is the one place the running pieces are put together, in one declared
order (:class:`strangler.lifecycle.Lifecycle`: started in order, stopped in reverse). uvicorn workers use the zero-argument factory::

    STRANGLER_CONFIG=strangler.yaml uvicorn --factory strangler.app:app_from_env

Several workers act as one proxy when they share a run directory,
``STRANGLER_RUN_DIR`` (``strangler serve --workers N`` makes a private one and removes it
at exit; see :mod:`strangler.workers`).

or, in Python::

    >>> app = create_app("strangler.yaml")            # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import gc
import os
from pathlib import Path

from strangler._errors import ConfigError
from strangler.admin import cutover_components
from strangler.config import Config, load_config
from strangler.control import open_store
from strangler.lifecycle import Component, Lifecycle
from strangler.live import LiveState
from strangler.proxy import Proxy
from strangler.shadowing import shadow_components

__all__ = ["CONFIG_ENV", "RUN_DIR_ENV", "app_from_env", "create_app"]

CONFIG_ENV = "STRANGLER_CONFIG"
"""The environment variable naming the config file for :func:`app_from_env`."""

RUN_DIR_ENV = "STRANGLER_RUN_DIR"
"""The environment variable naming the directory the workers of one server share."""


def create_app(
    config: str | os.PathLike[str] | Config, *, run_dir: str | os.PathLike[str] | None = None
) -> Proxy:
    """The proxy for a config file (or an already loaded :class:`Config`).

    The store's schema is upgraded when behind. On startup the proxy loads the routes'
    live states from the store (a store that cannot be reached fails the startup: the
    proxy will not guess modes), then follows every flip while it runs.

    ``run_dir`` makes this process one of several workers of one server (the directory
    must exist, fresh for each server run): they share their counters there, and only the
    leading worker serves the admin side and runs the rollback monitor.
    """
    cfg = config if isinstance(config, Config) else load_config(config)
    store = open_store(cfg)
    proxy = Proxy(cfg)
    live = LiveState(store, cfg, proxy)

    async def close_store() -> None:
        await asyncio.to_thread(store.close)

    _, shadow = shadow_components(proxy, cfg, store)
    shared = Path(run_dir) if run_dir is not None else None
    _, cutover = cutover_components(proxy, cfg, store, on_flip=live.refresh, run_dir=shared)
    # The one place the order is declared: started top down, stopped bottom up.
    proxy.lifecycle = Lifecycle(
        [
            Component("store", None, close_store),
            Component("live state", live.start, live.stop),
            *shadow,
            *cutover,
        ]
    )
    proxy.on_startup.append(proxy.lifecycle.start)
    proxy.on_shutdown.append(proxy.lifecycle.stop)
    return proxy


async def settle_heap() -> None:
    """A startup hook for a process that serves one proxy (``strangler serve``, a uvicorn
    worker): once started, its objects (modules, config, SQLAlchemy's metadata, the route
    table) live as long as it does, so they are collected once, then left out of the cyclic
    collector's passes, which per-request garbage would otherwise make walk them all again
    and again (measured in docs/architecture.md, "The fast path")."""
    gc.collect()
    gc.freeze()


def app_from_env() -> Proxy:
    """``create_app`` for the file named by ``$STRANGLER_CONFIG`` (uvicorn ``--factory``),
    one of several workers sharing ``$STRANGLER_RUN_DIR`` when that is set."""
    path = os.environ.get(CONFIG_ENV)
    if not path:
        raise ConfigError(
            CONFIG_ENV, None, "the path of the strangler config file in this environment variable"
        )
    run_dir = os.environ.get(RUN_DIR_ENV) or None
    if run_dir is not None and not Path(run_dir).is_dir():
        raise ConfigError(
            RUN_DIR_ENV, run_dir, "an existing directory shared by the workers of one server"
        )
    proxy = create_app(Path(path), run_dir=run_dir)
    proxy.on_startup.append(settle_heap)
    return proxy
