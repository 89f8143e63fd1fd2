"""Which HTTP client should carry the proxy's hot path? Measured, not guessed.

The same :class:`strangler.proxy.Proxy` runs under uvicorn (uvloop + httptools, no access
log) with its remote backends swapped: strangler's own HTTP/1.1 client (``h1``, its
``HTTPBackend``), aiohttp's client or ``httpx.AsyncClient``; ``bare-aiohttp`` is a minimal
forwarder with none of the proxy's work. The upstream is nginx serving a 1 KB JSON body;
the load is wrk with fixed connections. Printed per transport: req/s, p50/p99 and the proxy process's CPU
microseconds per request (user + system time from /proc), then one JSON line.

    python -m bench.bench_transport --duration 8 --connections 16
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench._net import free_port, wait_port
from bench.bench_proxy import (
    BODY,
    Figures,
    _ensure_tools,
    _nginx_bin,
    measure,
    upstream_block,
    write_nginx_conf,
)
from strangler.backends import UpstreamRequest, UpstreamResponse
from strangler.config import Timeouts

TRANSPORTS = ("bare-aiohttp", "bare-h1", "h1", "h1-two-writes", "aiohttp", "httpx")


class AiohttpBackend:
    """A contender: aiohttp's ``ClientSession`` set up for a proxy (strangler's transport
    until its own HTTP/1.1 client measured at half the CPU per request)."""

    def __init__(self, name: str, config: Any) -> None:
        self.name = name
        self.base = config.target.rstrip("/")
        self.limit = config.max_connections
        self.session: Any = None

    async def send(
        self, request: UpstreamRequest, *, timeouts: Timeouts, route: str
    ) -> UpstreamResponse:
        import aiohttp
        from yarl import URL

        if self.session is None:
            self.session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.limit, keepalive_timeout=30),
                cookie_jar=aiohttp.DummyCookieJar(),
                auto_decompress=False,
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            )
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers]
        resp = await self.session.request(
            request.method,
            URL(self.base + request.target, encoded=True),
            headers=[(k, v) for k, v in headers if k != "host"],
            data=request.body or None,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(
                total=timeouts.total, sock_connect=timeouts.connect, sock_read=timeouts.read
            ),
        )

        async def release() -> None:
            resp.release()

        raw = [(k.lower(), v) for k, v in resp.raw_headers]
        return UpstreamResponse(
            resp.status, raw, resp.content.iter_any(), release, resp.content.at_eof
        )

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        if self.session is not None:
            await self.session.close()


class HttpxBackend:
    """The contender: an ``httpx.AsyncClient`` behind strangler's Backend protocol."""

    def __init__(self, name: str, base: str, limit: int) -> None:
        import httpx

        self.name = name
        self.base = base
        self.client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit),
            follow_redirects=False,
        )

    async def send(
        self, request: UpstreamRequest, *, timeouts: Timeouts, route: str
    ) -> UpstreamResponse:
        import httpx

        req = self.client.build_request(
            request.method,
            self.base + request.target,
            headers=[(k, v) for k, v in request.headers if k != b"host"],
            content=request.body or None,
            timeout=httpx.Timeout(timeouts.total, connect=timeouts.connect, read=timeouts.read),
        )
        resp = await self.client.send(req, stream=True)
        headers = [(k.lower(), v) for k, v in resp.headers.raw]
        return UpstreamResponse(resp.status_code, headers, resp.aiter_raw(), resp.aclose)

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        await self.client.aclose()


def bare_aiohttp_proxy(upstream: str) -> Any:
    """The floor: a 20-line ASGI forwarder on aiohttp with no routing, policy or metrics."""
    import aiohttp

    session: aiohttp.ClientSession | None = None

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal session
        if scope["type"] != "http":
            return
        if session is None:
            session = aiohttp.ClientSession(
                cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False
            )
        await receive()
        async with session.get(upstream + scope["path"], allow_redirects=False) as resp:
            body = await resp.read()
            headers = [(k.lower(), v) for k, v in resp.raw_headers]
        await send({"type": "http.response.start", "status": resp.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def bare_h1_proxy(upstream: str) -> Any:
    """The floor for strangler's own client: a forwarder with no routing, policy or metrics."""
    from strangler.backends import HTTPBackend
    from strangler.config import BackendConfig

    backend = HTTPBackend("legacy", BackendConfig(target=upstream))
    timeouts = Timeouts()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await receive()
        request = UpstreamRequest(scope["method"], scope["path"], scope["headers"])
        resp = await backend.send(request, timeouts=timeouts, route="*")
        body = await resp.read()
        await send({"type": "http.response.start", "status": resp.status, "headers": resp.headers})
        await send({"type": "http.response.body", "body": body})

    return app


def serve(transport: str, port: int, upstream: str) -> None:
    """Run one proxy process (the child side of the benchmark)."""
    import uvicorn

    from strangler.config import parse_config
    from strangler.proxy import SERVER_SETTINGS, Proxy

    cfg = parse_config({"legacy": upstream, "new": upstream, "routes": []})
    backends: dict[str, Any] | None = None  # None: the default, strangler's own client (h1)
    if transport == "aiohttp":
        backends = {"legacy": AiohttpBackend("legacy", cfg.legacy)}
        backends["new"] = AiohttpBackend("new", cfg.new)
    elif transport == "httpx":
        limit = cfg.legacy.max_connections
        backends = {"legacy": HttpxBackend("legacy", upstream, limit)}
        backends["new"] = HttpxBackend("new", upstream, limit)
    app: Any = Proxy(cfg, backends=backends)
    if transport == "bare-aiohttp":
        app = bare_aiohttp_proxy(upstream)
    elif transport == "bare-h1":
        app = bare_h1_proxy(upstream)
    settings: dict[str, Any] = {**SERVER_SETTINGS}
    if transport == "h1-two-writes":  # uvicorn's own protocol: head and body written apart
        settings["http"] = "httptools"
    uvicorn.run(
        app,
        **settings,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        loop="uvloop",
    )


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument(
        "--transports", default=",".join(TRANSPORTS), help="comma-separated subset to run"
    )
    ap.add_argument("--serve", choices=TRANSPORTS, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--upstream", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.upstream)
        return 0
    _ensure_tools()

    work = Path(tempfile.mkdtemp(prefix="strangler-bench-transport-"))
    up_port = free_port()
    (work / "body.json").write_text(BODY)
    conf = write_nginx_conf(work, "upstream", upstream_block(work, up_port))
    upstream = f"http://127.0.0.1:{up_port}"
    results: list[Figures] = []
    ngx = subprocess.Popen([_nginx_bin(), "-c", str(conf), "-p", str(work)])
    try:
        wait_port(up_port)
        for transport in args.transports.split(","):
            port = free_port()
            cmd = [sys.executable, "-m", "bench.bench_transport", "--serve", transport]
            proc = subprocess.Popen(
                [*cmd, "--port", str(port), "--upstream", upstream],
                env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
            )
            try:
                wait_port(port, 30)
                url = f"http://127.0.0.1:{port}/orgs/acme"
                results.append(
                    measure(transport, 0, url, [proc.pid], args.duration, args.connections)
                )
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
    finally:
        ngx.send_signal(signal.SIGTERM)
        try:
            ngx.wait(timeout=10)
        except subprocess.TimeoutExpired:
            ngx.kill()
        shutil.rmtree(work, ignore_errors=True)

    print(f"{'transport':<13} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'CPU µs/req':>11}")
    for f in results:
        print(
            f"{f.target:<13} {f.requests_per_s:>10.1f} {f.p50_ms:>8.3f} {f.p99_ms:>8.3f} "
            f"{f.cpu_us_per_request or 0:>11.1f}"
        )
    print(json.dumps({"bench": "transport", "results": [asdict(f) for f in results]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
