"""Fixtures: real legacy and new servers, and a real Proxy in front of them, all on uvicorn."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from strangler.config import Config, parse_config
from strangler.proxy import SERVER_SETTINGS, Proxy
from tests.conftest import LiveServer, free_port
from tests.proxy.sides import SideApp

TOKEN = "s3cret-admin-token"


@dataclass
class Proxied:
    """A proxy served by uvicorn, with the two side apps behind it."""

    url: str
    proxy: Proxy
    legacy: SideApp
    new: SideApp
    server: LiveServer

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        with self.client() as c:
            return c.get(path, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with self.client() as c:
            return c.request(method, path, **kwargs)


@pytest.fixture
def sides(serve: Callable[..., LiveServer]) -> tuple[SideApp, LiveServer, SideApp, LiveServer]:
    legacy, new = SideApp("legacy"), SideApp("new")
    return legacy, serve(legacy), new, serve(new)


def make_config(legacy: str, new: str, routes: list[dict[str, Any]], **extra: Any) -> Config:
    data: dict[str, Any] = {"legacy": legacy, "new": new, "routes": routes}
    data.setdefault("admin", {"token": TOKEN})
    data.update(extra)
    return parse_config(data)


@pytest.fixture
def proxied(
    serve: Callable[..., LiveServer],
    sides: tuple[SideApp, LiveServer, SideApp, LiveServer],
) -> Callable[..., Proxied]:
    """``proxied(routes, legacy=URL, new=URL, **config)`` -> a served Proxy."""
    legacy_app, legacy_srv, new_app, new_srv = sides

    def _make(
        routes: list[dict[str, Any]] | None = None,
        *,
        legacy: Any = None,
        new: Any = None,
        uvicorn: dict[str, Any] | None = None,
        setup: Callable[[Proxy], None] | None = None,
        **extra: Any,
    ) -> Proxied:
        cfg = make_config(
            legacy if legacy is not None else legacy_srv.url,
            new if new is not None else new_srv.url,
            routes or [],
            **extra,
        )
        proxy = Proxy(cfg)
        if setup is not None:
            setup(proxy)
        server = serve(proxy, **{**SERVER_SETTINGS, **(uvicorn or {})})
        return Proxied(server.url, proxy, legacy_app, new_app, server)

    return _make


@pytest.fixture
def dead_url() -> str:
    """A URL nothing listens on (connect errors)."""
    return f"http://127.0.0.1:{free_port()}"
