"""A recording proxy: the strangler proxy itself, with a corpus sampler as its shadow sink.

``strangler record --listen 127.0.0.1:8080`` serves every configured route from legacy
(the recording config puts each route in mode ``shadow`` with the whole traffic sampled),
and the proxy hands each exchange, with its buffered bodies, to a
:class:`~parity_tests.recording.CorpusSampler` instead of a shadow runner: nothing is sent
to new, clients get legacy's answers exactly as through the proxy, and unmatched requests
(the catch-all) are served but not recorded. No second proxy is written for recording.

::

    recorder = RecordingProxy(config, sampler)
    # serve recorder.app with uvicorn; then
    write_corpus("corpus.jsonl", sampler.entries())
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import uvicorn

from parity_tests.recording import CorpusSampler
from shadow.exchange import Exchange
from strangler.config import Config
from strangler.proxy import Proxy
from strangler.routing import RouteTable

__all__ = ["RecordingProxy", "recording_config", "serve_recording"]

# Added by the proxy on the way to legacy; not part of what the client asked.
_PROXY_ADDED = ("x-forwarded-", "via", "forwarded", "x-strangler-")


def recording_config(config: Config) -> Config:
    """``config`` with every route in mode ``shadow``, sampling all of its traffic."""
    routes = []
    for rc in config.routes:
        settings = config.route_shadow(rc).model_copy(update={"sample": 1.0})
        routes.append(rc.model_copy(update={"mode": "shadow", "percent": None, "shadow": settings}))
    return config.model_copy(update={"routes": tuple(routes)})


class RecordingProxy:
    """The proxy, serving legacy, feeding ``sampler`` with every routed exchange."""

    def __init__(self, config: Config, sampler: CorpusSampler) -> None:
        self.sampler = sampler
        self.exchanges = 0
        table = RouteTable.build(recording_config(config))
        self.app = Proxy(config, table)
        self.app.shadow_sink = self._sink

    def _sink(self, exchange: Exchange, _shadow: str) -> None:
        self.exchanges += 1
        request = exchange.request
        headers = tuple(
            (k, v) for k, v in request.headers if not k.startswith(_PROXY_ADDED) and k != "host"
        )
        self.sampler.offer(replace(request, headers=headers, sticky_key=None), exchange.primary)


def serve_recording(
    recorder: RecordingProxy,
    host: str,
    port: int,
    *,
    duration: float | None = None,
    max_exchanges: int | None = None,
) -> None:
    """Serve until ``duration`` seconds passed, ``max_exchanges`` were seen, or Ctrl-C."""
    server = uvicorn.Server(
        uvicorn.Config(recorder.app, host=host, port=port, log_level="warning", lifespan="on")
    )
    started = time.monotonic()
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.2):
            if duration is not None and time.monotonic() - started >= duration:
                break
            if max_exchanges is not None and recorder.exchanges >= max_exchanges:
                break
        server.should_exit = True

    watcher = threading.Thread(target=watch, name="strangler-record-stop", daemon=True)
    watcher.start()
    try:
        server.run()
    finally:
        stop.set()
        watcher.join(timeout=5)
