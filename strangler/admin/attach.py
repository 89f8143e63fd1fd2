"""Attach the cutover pieces to a proxy process: the admin side and the rollback monitor.

``create_app`` calls :func:`attach_cutover` once it has built the proxy and its live-state
watcher; the hooks start with the proxy and stop with it::

    >>> attach_cutover(proxy, cfg, store, on_flip=live.refresh)     # doctest: +SKIP
    Attached(admin=AdminServer(...), monitor=RollbackMonitor(...))
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from strangler.admin._app import create_admin_app
from strangler.admin.server import AdminServer
from strangler.config import Config
from strangler.proxy import Proxy
from strangler.rollout.monitor import RollbackMonitor
from strangler.rollout.served import TrafficRecorder
from strangler.store import Store

__all__ = ["Attached", "attach_cutover"]


@dataclass(frozen=True, slots=True)
class Attached:
    """What was attached to the proxy (tests read the admin side's port here)."""

    admin: AdminServer
    monitor: RollbackMonitor
    traffic: TrafficRecorder


def attach_cutover(
    proxy: Proxy,
    config: Config,
    store: Store,
    *,
    on_flip: Callable[[], Awaitable[Any]] | None = None,
    traffic_interval: float = 10.0,
) -> Attached:
    """Serve the admin side on ``config.admin``, watch for rollbacks and record the
    traffic each side served (every ``traffic_interval`` seconds), with the proxy.

    ``on_flip`` (the live-state watcher's refresh) is awaited after a flip made by the
    admin API or the rollback monitor, so this process serves it at once; other
    processes follow through the store within their poll interval.
    """
    monitor = RollbackMonitor(config, store, proxy, on_flip=on_flip)
    app = create_admin_app(config, store, registry=proxy.metrics.registry, on_flip=on_flip)
    admin = AdminServer(app, config.admin.host, config.admin.port)
    traffic = TrafficRecorder(store, proxy.metrics.registry, interval=traffic_interval)
    proxy.on_startup.extend([admin.start, monitor.start, traffic.start])
    proxy.on_shutdown[:0] = [monitor.stop, admin.stop, traffic.stop]
    return Attached(admin, monitor, traffic)
