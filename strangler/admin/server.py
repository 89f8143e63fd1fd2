"""Serve the admin app on its own port inside the proxy's process and event loop.

The proxy's ``on_startup`` hook starts it, ``on_shutdown`` stops it. It never touches the
process's signal handlers (the proxy's server owns them)::

    >>> server = AdminServer(create_admin_app(cfg, store), cfg.admin.host, cfg.admin.port)  # doctest: +SKIP
    >>> proxy.on_startup.append(server.start)                                              # doctest: +SKIP
    >>> proxy.on_shutdown.append(server.stop)                                              # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn

from strangler._types import ASGIApp

__all__ = ["AdminServer"]

log = logging.getLogger("strangler.admin")


class _Embedded(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the process's main server."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class AdminServer:
    """The admin app on ``host:port`` (port 0: any free port, see :attr:`port`)."""

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 8099) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: _Embedded | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Bind and serve; a port already in use is logged, and the proxy keeps running."""
        if self._task is not None:
            return
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            log.error(
                "admin side not started: cannot listen on %s:%s (%s); set admin.port to a "
                "free port",
                self.host,
                self.port,
                exc.strerror,
            )
            return
        sock.listen(128)  # connections queue from now on, before uvicorn accepts them
        self.port = int(sock.getsockname()[1])
        # log_config=None: the proxy's uvicorn already configured logging for this process;
        # a second configuration would reset it (and hide "Uvicorn running on ...").
        # access_log=True leaves the access logger as the proxy's server set it: False would
        # remove its handlers for the whole process (``serve --access-log`` printed nothing).
        config = uvicorn.Config(
            self.app, log_config=None, access_log=True, lifespan="off", loop="none"
        )
        self._server = _Embedded(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="admin")
        log.info("admin side on %s", self.url)

    async def stop(self) -> None:
        task, server = self._task, self._server
        self._task = self._server = None
        if task is None or server is None:
            return
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
