"""The admin side: JSON API, HTML dashboard, Prometheus metrics (a Starlette app).

Reads are open (bind the admin side to 127.0.0.1, the default); writes (``POST
/api/flip``, ``POST /api/kill-switch``) need ``Authorization: Bearer <admin token>`` and
answer 401 without it. Every page is rendered by jinja2 with autoescape on::

    >>> app = create_admin_app(cfg, store, registry=proxy.metrics.registry)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import html
import json
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import jinja2
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from strangler._errors import FlipRefused, InvalidFlip, RouteError, StoreError, StranglerError
from strangler.admin import _pages
from strangler.config import Config
from strangler.control import (
    engage_kill_switch,
    flip_route,
    flip_to_json,
    legacy_surface,
    migration_progress,
    parse_percent,
    readiness_of,
    release_kill_switch,
    routes_overview,
)
from strangler.store import Store
from strangler.workers import WorkerInfo, this_worker

__all__ = ["create_admin_app"]

OnFlip = Callable[[], Awaitable[Any]]
Workers = Callable[[], list[WorkerInfo]]


@functools.cache
def _plotly_js() -> bytes:
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs()).encode()


def _templates() -> jinja2.Environment:
    env = jinja2.Environment(
        # the report's templates too: the differences view is one macro for both
        loader=jinja2.ChoiceLoader(
            [
                jinja2.PackageLoader("strangler.admin", "templates"),
                jinja2.PackageLoader("strangler.report", "templates"),
            ]
        ),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["pct"] = _pages.pct
    env.filters["mode"] = _pages.mode_label
    env.filters["when"] = _pages.when
    return env


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


class _Admin:
    def __init__(
        self,
        config: Config,
        store: Store,
        registry: Collector | None,
        on_flip: OnFlip | None,
        workers: Workers | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self.registry = registry
        self.workers = workers
        self.on_flip = on_flip
        token = config.admin.resolved_token()
        self.token = token.encode() if token else None
        self.env = _templates()

    # -- helpers ---------------------------------------------------------------------------

    async def _run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    def _page(self, name: str, **context: Any) -> HTMLResponse:
        template = self.env.get_template(name)
        html = template.render(
            writable=self.token is not None,
            refresh=self.config.admin.refresh,
            now=datetime.now(UTC),
            **context,
        )
        return HTMLResponse(html)

    def _authorized(self, request: Request) -> JSONResponse | None:
        if self.token is None:
            return _error(
                401,
                f"no admin token is configured (set ${self.config.admin.token_env}); "
                "the admin side is read-only",
            )
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given:
            return _error(401, "an admin token is required: 'Authorization: Bearer <token>'")
        if not hmac.compare_digest(given.strip().encode(), self.token):
            return _error(401, "the admin token is wrong")
        return None

    @staticmethod
    async def _body(request: Request) -> dict[str, Any] | JSONResponse:
        try:
            data = json.loads(await request.body() or b"{}")
        except ValueError:
            return _error(400, "the body must be a JSON object")
        if not isinstance(data, dict):
            return _error(400, "the body must be a JSON object")
        return data

    @staticmethod
    def _actor(request: Request, data: dict[str, Any]) -> str:
        who = str(data.get("actor") or "dashboard")[:100]
        peer = request.client.host if request.client else "?"
        return f"{who} via admin API ({peer})"

    async def _after_flip(self) -> None:
        if self.on_flip is not None:
            await self.on_flip()

    # -- pages -----------------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        data = await self._run(_pages.dashboard, self.config, self.store)
        return self._page("index.html", **data)

    async def route_page(self, request: Request) -> Response:
        key = request.query_params.get("route", "")
        try:
            data = await self._run(_pages.route_detail, self.config, self.store, key)
        except (RouteError, ValueError):
            return HTMLResponse(
                self.env.get_template("missing.html").render(route=key), status_code=404
            )
        return self._page("route.html", **data)

    async def history_page(self, request: Request) -> Response:
        flips = await self._run(self.store.history, None, 500)
        return self._page("history.html", flips=flips)

    async def surface_page(self, request: Request) -> Response:
        found = await self._run(legacy_surface, self.config, self.store)
        return self._page("surface.html", surface=found.to_json())

    async def api_surface(self, request: Request) -> Response:
        found = await self._run(legacy_surface, self.config, self.store)
        return JSONResponse(found.to_json())

    async def plotly_js(self, request: Request) -> Response:
        return Response(
            _plotly_js(),
            media_type="application/javascript",
            headers={"cache-control": "public, max-age=86400"},
        )

    async def metrics(self, request: Request) -> Response:
        if self.registry is None:
            return Response(b"", media_type=CONTENT_TYPE_LATEST)
        # tens of ms for a few thousand samples (and file reads when summing workers):
        # kept off the event loop that proxies
        body = await self._run(generate_latest, self.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    # -- JSON API --------------------------------------------------------------------------

    async def api_routes(self, request: Request) -> Response:
        overview = await self._run(routes_overview, self.config, self.store)
        return JSONResponse(overview.to_json())

    async def api_readiness(self, request: Request) -> Response:
        verdicts = await self._run(readiness_of, self.config, self.store)
        return JSONResponse([v.to_json() for v in verdicts.values()])

    async def api_history(self, request: Request) -> Response:
        route = request.query_params.get("route") or None
        try:
            limit = max(1, min(1000, int(request.query_params.get("limit", "100"))))
        except ValueError:
            return _error(400, "limit must be a whole number from 1 to 1000")
        flips = await self._run(self.store.history, route, limit)
        return JSONResponse([flip_to_json(f) for f in flips])

    async def api_workers(self, request: Request) -> Response:
        if self.workers is not None:
            workers = await self._run(self.workers)
        else:
            workers = await self._run(this_worker, self.registry)
        return JSONResponse({"leader": os.getpid(), "workers": [w.to_json() for w in workers]})

    async def api_status(self, request: Request) -> Response:
        progress = await self._run(migration_progress, self.config, self.store)
        return JSONResponse(progress.to_json())

    async def api_flip(self, request: Request) -> Response:
        denied = self._authorized(request)
        if denied is not None:
            return denied
        data = await self._body(request)
        if isinstance(data, JSONResponse):
            return data
        route = str(data.get("route") or "")
        percent_raw = data.get("percent")
        try:
            percent: Decimal | None = (
                None if percent_raw in (None, "") else parse_percent(route, str(percent_raw))
            )
            flip = await self._run(
                _flip,
                self.config,
                self.store,
                route,
                str(data.get("mode") or ""),
                percent,
                str(data.get("reason") or ""),
                self._actor(request, data),
                bool(data.get("force", False)),
            )
        except FlipRefused as exc:
            return _error(409, str(exc), route=exc.route, blockers=list(exc.blockers))
        except (InvalidFlip, RouteError) as exc:
            return _error(400, str(exc))
        except StranglerError as exc:
            return _error(503, str(exc))
        await self._after_flip()
        return JSONResponse(flip_to_json(flip))

    async def api_kill_switch(self, request: Request) -> Response:
        denied = self._authorized(request)
        if denied is not None:
            return denied
        data = await self._body(request)
        if isinstance(data, JSONResponse):
            return data
        engaged = data.get("engaged")
        if not isinstance(engaged, bool):
            return _error(400, "'engaged' must be true (every route to legacy) or false")
        reason = str(data.get("reason") or "")
        actor = self._actor(request, data)
        try:
            if engaged:
                result = await self._run(
                    engage_kill_switch, self.config, self.store, reason=reason, actor=actor
                )
            else:
                result = await self._run(
                    release_kill_switch, self.store, reason=reason, actor=actor
                )
        except InvalidFlip as exc:
            return _error(400, str(exc))
        except StranglerError as exc:
            return _error(503, str(exc))
        await self._after_flip()
        return JSONResponse(result.to_json())


def _flip(
    config: Config,
    store: Store,
    route: str,
    mode: str,
    percent: Decimal | None,
    reason: str,
    actor: str,
    force: bool,
) -> Any:
    return flip_route(config, store, route, mode, percent, reason, actor, force)


def create_admin_app(
    config: Config,
    store: Store,
    *,
    registry: Collector | None = None,
    on_flip: OnFlip | None = None,
    workers: Workers | None = None,
) -> Starlette:
    """The admin ASGI app for ``config``'s store.

    ``registry`` is the proxy's Prometheus registry (or, for several workers, the sum of
    theirs), exposed at ``/metrics``; ``on_flip`` is awaited after each flip made here (the
    proxy process passes its live-state refresh, so its own table follows at once);
    ``workers`` lists the worker processes for ``/api/workers`` (default: this process).
    """
    admin = _Admin(config, store, registry, on_flip, workers)
    static = StaticFiles(packages=[("strangler.admin", "static")])
    app = Starlette(
        exception_handlers={StoreError: _store_down},
        middleware=[Middleware(SecurityHeaders)],
        routes=[
            Route("/", admin.index),
            Route("/route", admin.route_page),
            Route("/history", admin.history_page),
            Route("/surface", admin.surface_page),
            Route("/metrics", admin.metrics),
            Route("/static/plotly.min.js", admin.plotly_js),
            Mount("/static", static, name="static"),
            Route("/api/routes", admin.api_routes),
            Route("/api/readiness", admin.api_readiness),
            Route("/api/history", admin.api_history),
            Route("/api/status", admin.api_status),
            Route("/api/surface", admin.api_surface),
            Route("/api/workers", admin.api_workers),
            Route("/api/flip", admin.api_flip, methods=["POST"]),
            Route("/api/kill-switch", admin.api_kill_switch, methods=["POST"]),
        ],
    )
    return app


# Every admin answer: no framing by other sites, no sniffing, no referrer leaks, scripts
# and everything else from this origin only (Plotly sets inline styles: styles allow it).
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
        b"base-uri 'none'; form-action 'self'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` to every HTTP answer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message: Any) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        await self.app(scope, receive, sending)


async def _store_down(request: Request, exc: Exception) -> Response:
    """The store cannot be reached: 503 with the reason, and the page recovers by itself."""
    reason = str(exc)
    if request.url.path.startswith("/api/") or request.url.path == "/metrics":
        body = {"error": "store_unavailable", "detail": reason}
        return JSONResponse(body, 503, headers={"retry-after": "5"})
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta http-equiv='refresh' content='5'><title>strangler: store unreachable</title>"
        "</head><body><h1>The store is unreachable</h1><p>"
        + html.escape(reason)
        + "</p><p>This page tries again every 5 seconds.</p></body></html>"
    )
    return HTMLResponse(page, 503, headers={"retry-after": "5"})
