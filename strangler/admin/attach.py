"""Attach the cutover pieces to a proxy process: the admin side and the rollback monitor.

``create_app`` takes :func:`cutover_components` into its lifecycle once it has built the
proxy and its live-state watcher; :func:`attach_cutover` does the same for a proxy wired by
hand::

    >>> attach_cutover(proxy, cfg, store, on_flip=live.refresh)     # doctest: +SKIP
    Attached(admin=AdminServer(...), monitor=RollbackMonitor(...), ...)

One of several workers (``strangler serve --workers N``; ``run_dir`` is their shared
directory) writes its counters there every second, and serves the admin side and runs the
rollback monitor only while it leads, on the sum of every worker's counters (see
:mod:`strangler.workers`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strangler.admin._app import create_admin_app
from strangler.admin.server import AdminServer
from strangler.config import Config
from strangler.discovery_recorder import DiscoveryRecorder
from strangler.lifecycle import Component, Lifecycle
from strangler.proxy import Proxy
from strangler.rollback_monitor import RollbackMonitor
from strangler.store import Store
from strangler.traffic_recorder import TrafficRecorder
from strangler.workers import Leadership, WorkerMetrics

__all__ = ["Attached", "attach_cutover", "cutover_components"]


@dataclass(frozen=True, slots=True)
class Attached:
    """What was attached to the proxy (tests read the admin side's port here).

    ``shared`` and ``leadership`` are set only for one of several workers.
    """

    admin: AdminServer
    monitor: RollbackMonitor
    traffic: TrafficRecorder
    discovery: DiscoveryRecorder
    shared: WorkerMetrics | None = None
    leadership: Leadership | None = None


def cutover_components(
    proxy: Proxy,
    config: Config,
    store: Store,
    *,
    on_flip: Callable[[], Awaitable[Any]] | None = None,
    traffic_interval: float = 10.0,
    run_dir: Path | None = None,
) -> tuple[Attached, list[Component]]:
    """The admin side, the rollback monitor, the traffic recorder and the live discovery
    of ``proxy`` (see :mod:`strangler.discovery_recorder`), and the order they start in
    (they stop in reverse).

    ``on_flip`` (the live-state watcher's refresh) is awaited after a flip made by the
    admin API or the rollback monitor, so this process serves it at once; other
    processes follow through the store within their poll interval.

    With ``run_dir`` this process is one of several workers sharing that directory: the
    admin side and the monitor run on the leading worker only, on every worker's counters.
    The traffic recorder always reads this process's own counters (each worker adds its
    own answers to its own rows; the sum would count the others' again), and so does the
    live discovery (each worker its own catch-all's requests).
    """
    registry = proxy.metrics.registry
    traffic = TrafficRecorder(store, registry, interval=traffic_interval)
    discovery = DiscoveryRecorder(store, interval=traffic_interval)
    proxy.discovery = discovery.sample
    recorders = [
        Component("traffic recorder", traffic.start, traffic.stop),
        Component("live discovery", discovery.start, discovery.stop),
    ]
    if run_dir is None:
        monitor = RollbackMonitor(config, store, proxy, on_flip=on_flip)
        app = create_admin_app(config, store, registry=registry, on_flip=on_flip)
        admin = AdminServer(app, config.admin.host, config.admin.port)
        return Attached(admin, monitor, traffic, discovery), [
            *recorders,
            Component("rollback monitor", monitor.start, monitor.stop),
            Component("admin side", admin.start, admin.stop),
        ]

    shared = WorkerMetrics(registry, run_dir)
    monitor = RollbackMonitor(config, store, proxy, on_flip=on_flip, counters=shared)
    app = create_admin_app(config, store, registry=shared, workers=shared.workers, on_flip=on_flip)
    admin = AdminServer(app, config.admin.host, config.admin.port)
    leadership = Leadership(
        run_dir, on_elected=[admin.start, monitor.start], on_resign=[monitor.stop, admin.stop]
    )
    return Attached(admin, monitor, traffic, discovery, shared, leadership), [
        Component("shared worker counters", shared.start, shared.stop),
        *recorders,
        Component("leadership (admin side, rollback monitor)", leadership.start, leadership.stop),
    ]


def attach_cutover(
    proxy: Proxy,
    config: Config,
    store: Store,
    *,
    on_flip: Callable[[], Awaitable[Any]] | None = None,
    traffic_interval: float = 10.0,
    run_dir: Path | None = None,
) -> Attached:
    """:func:`cutover_components`, started and stopped with ``proxy`` (for a proxy wired by
    hand; :func:`strangler.app.create_app` puts them in its one lifecycle)."""
    attached, components = cutover_components(
        proxy,
        config,
        store,
        on_flip=on_flip,
        traffic_interval=traffic_interval,
        run_dir=run_dir,
    )
    life = Lifecycle(components)
    proxy.on_startup.append(life.start)
    proxy.on_shutdown.insert(0, life.stop)
    return attached
