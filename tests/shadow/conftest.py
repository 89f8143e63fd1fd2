"""Fixtures: legacy, new (and a sandbox) on real uvicorn servers, a shadowing proxy, a store."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from shadow.runner import ShadowRunner
from strangler.config import parse_config
from strangler.proxy import SERVER_SETTINGS, Proxy
from strangler.recorder import Recorder
from strangler.shadowing import attach_shadow
from strangler.store import Store
from strangler.store.shadow_models import ShadowExchangeRow, ShadowFieldRow, ShadowMinuteRow
from tests.conftest import LiveServer
from tests.shadow.apps import Backend


@dataclass
class Shadowed:
    url: str
    proxy: Proxy
    runner: ShadowRunner
    recorder: Recorder
    store: Store
    legacy: Backend
    new: Backend
    sandbox: Backend
    server: LiveServer

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def settle(self, submitted: int) -> None:
        """Wait until ``submitted`` requests reached the runner and every call finished."""
        deadline = time.monotonic() + 30
        while self.runner.submitted < submitted or self.runner.in_flight:
            assert time.monotonic() < deadline, "shadow calls did not finish"
            time.sleep(0.01)
        assert self.recorder.flush(timeout=30)

    def totals(self, route: str) -> dict[str, Any]:
        out: dict[str, Any] = {"not_compared": {}, "dropped": {}}
        with self.store.session() as s:
            rows = s.scalars(select(ShadowMinuteRow).where(ShadowMinuteRow.route == route)).all()
            for r in rows:
                for name in (
                    "requests",
                    "compared",
                    "matched",
                    "noise",
                    "mismatch_status",
                    "mismatch_schema",
                    "mismatch_value",
                    "mismatch_added",
                    "noise_samples",
                ):
                    out[name] = out.get(name, 0) + getattr(r, name)
                for name in ("not_compared", "dropped"):
                    for k, v in r.__dict__[name].items():
                        out[name][k] = out[name].get(k, 0) + v
        return out

    def fields(self, route: str) -> dict[str, ShadowFieldRow]:
        with self.store.session() as s:
            rows = s.scalars(select(ShadowFieldRow).where(ShadowFieldRow.route == route)).all()
            return {r.field: r for r in rows}

    def exchanges(self, route: str | None = None) -> list[ShadowExchangeRow]:
        q = select(ShadowExchangeRow).order_by(ShadowExchangeRow.id)
        if route is not None:
            q = q.where(ShadowExchangeRow.route == route)
        with self.store.session() as s:
            return list(s.scalars(q).all())


@pytest.fixture(params=["fast path", "asgi path"])
def shadowed(
    request: pytest.FixtureRequest, serve: Callable[..., LiveServer], sqlite_url: str
) -> Iterator[Callable[..., Shadowed]]:
    """``shadowed(routes, store_url=None, recorder=None, new_server=None, **config)``: a
    served proxy shadowing to new (``recorder``: the :class:`Recorder`'s options, its
    defaults otherwise; ``new_server``: uvicorn settings for new's server). Each
    test runs twice: served as ``strangler serve`` serves it (the client's request relayed
    by the fast path), and by plain uvicorn (the ASGI path)."""
    server_settings: dict[str, Any] = SERVER_SETTINGS if request.param == "fast path" else {}
    stores: list[Store] = []

    def make(
        routes: list[dict[str, Any]],
        store_url: str | None = None,
        recorder: dict[str, Any] | None = None,
        new_server: dict[str, Any] | None = None,
        **extra: Any,
    ) -> Shadowed:
        legacy, new, sandbox = Backend("legacy"), Backend("new"), Backend("sandbox")
        data: dict[str, Any] = {
            "legacy": serve(legacy).url,
            "new": serve(new, **(new_server or {})).url,
            "new_sandbox": serve(sandbox).url,
            "routes": routes,
            "store": store_url or sqlite_url,
        }
        data.update(extra)
        cfg = parse_config(data)
        store = Store(cfg.store)
        stores.append(store)
        if store_url is None:
            store.ensure_schema()
        proxy = Proxy(cfg)
        given = Recorder(store, **recorder) if recorder is not None else None
        runner = attach_shadow(proxy, cfg, store, recorder=given)
        sink = runner.sink
        assert isinstance(sink, Recorder)
        live = serve(proxy, **server_settings)
        return Shadowed(live.url, proxy, runner, sink, store, legacy, new, sandbox, live)

    yield make
    for store in stores:
        store.close()
