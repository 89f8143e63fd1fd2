"""The rewrite's HTTP layer: a Starlette (ASGI) app that turns requests into commands.

Run it with ``python -m examples.new --port 8002 --db new.db``, or load it in-process as
``examples.new.app:app`` with the database file in ``EXAMPLES_NEW_DB``::

    >>> from starlette.testclient import TestClient              # doctest: +SKIP
    >>> TestClient(create_app("new.db")).get("/orgs").json()["total"]  # doctest: +SKIP
    115
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from examples.new.commands import (
    AppError,
    CreateOrder,
    CreatePayment,
    GetForm,
    GetOrder,
    GetOrganisation,
    GetPayment,
    ListForms,
    ListOrganisations,
    SearchOrders,
    bad_request,
)
from examples.new.models import create_schema
from examples.new.repositories import UnitOfWork

__all__ = ["DB_ENV", "app", "create_app"]

DB_ENV = "EXAMPLES_NEW_DB"


class _View(Protocol):
    def to_json(self) -> dict[str, Any]: ...


class _Command(Protocol):
    def run(self, uow: UnitOfWork) -> Any: ...


def _int_arg(request: Request, name: str, default: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 0 <= int(raw) <= high:
        raise bad_request(f"{name} must be an integer from 0 to {high}, got {raw!r}")
    return int(raw)


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def create_app(db_path: str | Path) -> Starlette:
    """The rewrite on the SQLite file ``db_path`` (its tables are created if missing)."""
    engine: Engine = create_schema(f"sqlite:///{db_path}")

    def execute(command: _Command) -> Any:
        with UnitOfWork(engine) as uow:
            return command.run(uow)

    async def run(command: _Command, status: int = 200) -> Response:
        from starlette.concurrency import run_in_threadpool

        view: _View = await run_in_threadpool(execute, command)
        return JSONResponse(view.to_json(), status_code=status)

    async def list_orgs(request: Request) -> Response:
        limit = _int_arg(request, "limit", 50, 200)
        offset = _int_arg(request, "offset", 0, 10**6)
        return await run(ListOrganisations(request.query_params.get("country"), limit, offset))

    async def get_org(request: Request) -> Response:
        return await run(GetOrganisation(request.path_params["slug"]))

    async def list_forms(request: Request) -> Response:
        return await run(ListForms(request.path_params["slug"]))

    async def get_form(request: Request) -> Response:
        return await run(GetForm(request.path_params["slug"], request.path_params["form"]))

    async def search_orders(request: Request) -> Response:
        q = request.query_params
        limit = _int_arg(request, "limit", 20, 200)
        return await run(
            SearchOrders(request.path_params["slug"], q.get("q"), q.get("status"), limit)
        )

    async def create_order(request: Request) -> Response:
        body = await _json_body(request)
        command = CreateOrder(
            request.path_params["slug"],
            request.path_params["form"],
            body.get("payer_name"),
            body.get("payer_email"),
            body.get("amount"),
        )
        return await run(command, status=201)

    async def get_order(request: Request) -> Response:
        return await run(GetOrder(request.path_params["ref"]))

    async def get_payment(request: Request) -> Response:
        return await run(GetPayment(request.path_params["ref"]))

    async def take_payment(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        body = await _json_body(request)
        key = request.headers.get("idempotency-key", "").strip()
        result = await run_in_threadpool(
            execute, CreatePayment(key, body.get("order"), body.get("amount"))
        )
        if result.replayed:
            headers = {"Idempotent-Replayed": "true"}
            return JSONResponse(result.view.to_json(), status_code=200, headers=headers)
        return JSONResponse(result.view.to_json(), status_code=201)

    async def app_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AppError)
        return JSONResponse({"error": exc.code, "message": exc.message}, status_code=exc.status)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            body = {"error": "method_not_allowed", "message": f"{request.method} not allowed here"}
        else:
            body = {"error": "not_found", "message": f"no route for {request.url.path}"}
        return JSONResponse(body, status_code=exc.status_code)

    routes = [
        Route("/orgs", list_orgs, methods=["GET"]),
        Route("/orgs/{slug}", get_org, methods=["GET"]),
        Route("/orgs/{slug}/forms", list_forms, methods=["GET"]),
        Route("/orgs/{slug}/forms/{form}", get_form, methods=["GET"]),
        Route("/orgs/{slug}/forms/{form}/orders", create_order, methods=["POST"]),
        Route("/orgs/{slug}/orders", search_orders, methods=["GET"]),
        Route("/orders/{ref}", get_order, methods=["GET"]),
        Route("/payments", take_payment, methods=["POST"]),
        Route("/payments/{ref}", get_payment, methods=["GET"]),
    ]
    handlers: dict[Any, Callable[[Request, Exception], Any]] = {
        AppError: app_error,
        HTTPException: http_error,
    }
    return Starlette(routes=routes, exception_handlers=handlers)


class _LazyApp:
    """The ASGI callable for ``examples.new.app:app``: reads ``$EXAMPLES_NEW_DB`` when the
    first request (or lifespan event) arrives, not at import."""

    def __init__(self) -> None:
        self._app: Starlette | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            path = os.environ.get(DB_ENV)
            if not path:
                raise RuntimeError(f"set {DB_ENV} to the new SQLite file")
            self._app = create_app(path)
        await self._app(scope, receive, send)


app = _LazyApp()
