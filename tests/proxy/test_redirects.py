"""Redirects and other URLs a backend builds from its own address point at the proxy.

A corpus of header values against the pure rewriter, then real backends behind a real
proxy: an app that builds its redirects from the ``Host`` it got (as frameworks do), one
mounted under a path in its base URL, a trusted front proxy's ``X-Forwarded-Host``, and
shadow mode comparing legacy's and new's redirects as a client sees them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from shadow.runner import ShadowResult
from strangler._types import Receive, Scope, Send
from strangler.config import parse_config
from strangler.proxy import SERVER_SETTINGS, Proxy
from strangler.proxy._redirects import UrlRewriter
from strangler.recorder import Recorder
from strangler.shadowing import attach_shadow
from tests.conftest import LiveServer, start_server

BACKENDS = ["http://127.0.0.1:8001", "https://new.internal", "http://10.0.0.5:9000/v2/"]
CLIENT = b"https://shop.example"

URLS = [
    # (header value from a backend, what the client gets)
    (b"http://127.0.0.1:8001/api/articles", b"https://shop.example/api/articles"),
    (b"http://127.0.0.1:8001/a?b=c#d", b"https://shop.example/a?b=c#d"),
    (b"http://127.0.0.1:8001", b"https://shop.example"),
    (b"http://127.0.0.1:8001?q=1", b"https://shop.example/?q=1"),
    (b"HTTP://127.0.0.1:8001/Case", b"https://shop.example/Case"),
    (b"http://user@127.0.0.1:8001/x", b"https://shop.example/x"),
    (b"https://new.internal/x", b"https://shop.example/x"),
    (b"https://new.internal:443/x", b"https://shop.example/x"),
    (b"https://NEW.internal/x", b"https://shop.example/x"),
    (b"//127.0.0.1:8001/x", b"https://shop.example/x"),
    (b"http://10.0.0.5:9000/v2/articles", b"https://shop.example/articles"),
    (b"http://10.0.0.5:9000/v2", b"https://shop.example"),
    (b"http://10.0.0.5:9000/v2?x=1", b"https://shop.example/?x=1"),
    (b"/v2/articles", b"/articles"),
    (b"/v2", b"/"),
    # not a backend's URL: unchanged
    (b"http://10.0.0.5:9000/v20/articles", b"http://10.0.0.5:9000/v20/articles"),
    (b"http://10.0.0.5:9000/other", b"http://10.0.0.5:9000/other"),
    (b"/v20/articles", b"/v20/articles"),
    (b"/api/articles", b"/api/articles"),
    (b"articles/2", b"articles/2"),
    (b"http://127.0.0.1:8002/x", b"http://127.0.0.1:8002/x"),
    (b"http://new.internal/x", b"http://new.internal/x"),  # http, port 80: not https://new
    (b"https://127.0.0.1:8001/x", b"https://127.0.0.1:8001/x"),
    (b"https://elsewhere.example/x", b"https://elsewhere.example/x"),
    (b"http://127.0.0.1:80011/x", b"http://127.0.0.1:80011/x"),
    (b"mailto:ops@example.com", b"mailto:ops@example.com"),
    (b"", b""),
]


@pytest.mark.parametrize(("value", "expected"), URLS)
def test_location_values(value: bytes, expected: bytes) -> None:
    rewriter = UrlRewriter(BACKENDS)
    assert rewriter.url(value, CLIENT) == expected
    headers = [(b"location", value), (b"content-location", value), (b"link", value)]
    rewriter.headers(headers, CLIENT)
    assert headers == [(b"location", expected), (b"content-location", expected), (b"link", value)]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"5; url=http://127.0.0.1:8001/later", b"5; url=https://shop.example/later"),
        (b"0;URL='http://127.0.0.1:8001/x'", b"0;URL='https://shop.example/x'"),
        (b'3; url="/v2/x"', b'3; url="/x"'),
        (b"5; url=https://elsewhere.example/", b"5; url=https://elsewhere.example/"),
        (b"5", b"5"),
    ],
)
def test_refresh_values(value: bytes, expected: bytes) -> None:
    assert UrlRewriter(BACKENDS).refresh(value, CLIENT) == expected


async def redirecting(scope: Scope, receive: Receive, send: Send) -> None:
    """Redirects ``.../`` to the path without the slash, built from the Host it got."""
    if scope["type"] != "http":
        return
    await receive()
    host = dict(scope["headers"])[b"host"].decode()
    path = scope["path"]
    base = f"http://{host}"
    root = "/v2" if path.startswith("/v2/") else ""  # where the app is mounted
    headers = [
        (b"location", f"{base}{path.rstrip('/')}".encode()),
        (b"content-location", f"{base}{path}".encode()),
        (b"refresh", f"1; url={base}{root}/later".encode()),
        (b"content-length", b"0"),
    ]
    if scope["query_string"] == b"show-host":
        headers.append((b"x-seen-host", host.encode()))
    await send({"type": "http.response.start", "status": 307, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


@dataclass
class Setup:
    legacy: LiveServer
    new: LiveServer
    proxy: LiveServer
    shadowed: list[ShadowResult]


@pytest.fixture(scope="module")
def setup() -> Iterator[Setup]:
    legacy, new = start_server(redirecting), start_server(redirecting)
    shadowed: list[ShadowResult] = []
    config = parse_config(
        {
            "legacy": legacy.url,
            "new": f"{new.url}/v2",
            "routes": [
                {"route": "GET /api/{name}/", "mode": "new"},
                {"route": "GET /shadowed/{name}/", "mode": "shadow"},
            ],
            "proxy": {"trusted_proxies": ["127.0.0.1/32"]},
        }
    )
    proxy = Proxy(config)
    attach_shadow(proxy, config, None, recorder=Recorder(None, on_record=shadowed.append))
    served = start_server(proxy, **SERVER_SETTINGS)
    yield Setup(legacy, new, served, shadowed)
    for live in (served, legacy, new):
        live.stop()


def test_a_redirect_from_new_points_at_the_proxy(setup: Setup) -> None:
    resp = httpx.get(f"{setup.proxy.url}/api/articles/")
    assert resp.status_code == 307
    # new is mounted under /v2 on its server: the client never sees that either.
    assert resp.headers["location"] == f"{setup.proxy.url}/api/articles"
    assert resp.headers["content-location"] == f"{setup.proxy.url}/api/articles/"
    assert resp.headers["refresh"] == f"1; url={setup.proxy.url}/later"
    # A client that follows the redirect stays with the proxy.
    with httpx.Client(follow_redirects=False) as client:
        follow = client.get(resp.headers["location"] + "/")
    assert follow.headers["location"] == f"{setup.proxy.url}/api/articles"


def test_a_redirect_from_legacy_names_the_host_the_client_used(setup: Setup) -> None:
    # The catch-all goes to legacy; a trusted front proxy says the client's URL.
    headers = {"X-Forwarded-Host": "shop.example", "X-Forwarded-Proto": "https"}
    resp = httpx.get(f"{setup.proxy.url}/account/", headers=headers)
    assert resp.headers["location"] == "https://shop.example/account"
    plain = httpx.get(f"{setup.proxy.url}/account/", headers={"Host": "shop.example:8443"})
    assert plain.headers["location"] == "http://shop.example:8443/account"


def test_shadowed_redirects_compare_as_the_client_sees_them(setup: Setup) -> None:
    setup.shadowed.clear()
    for name in ("a", "b", "c"):
        assert httpx.get(f"{setup.proxy.url}/shadowed/{name}/").status_code == 307
    deadline = time.monotonic() + 30
    while len(setup.shadowed) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    # legacy and new run on two ports (new under /v2): the same redirect once rewritten.
    assert [r.verdict.differences for r in setup.shadowed] == [()] * 3
    assert [r.verdict.outcome for r in setup.shadowed] == ["match"] * 3


def test_a_backend_set_to_the_clients_host_builds_the_clients_urls(setup: Setup) -> None:
    legacy = {"target": setup.legacy.url, "host": "client"}
    config = parse_config({"legacy": legacy, "new": setup.new.url})
    served = start_server(Proxy(config), **SERVER_SETTINGS)
    try:
        resp = httpx.get(f"{served.url}/account/?show-host", headers={"Host": "shop.example:8443"})
    finally:
        served.stop()
    assert resp.headers["x-seen-host"] == "shop.example:8443"
    assert resp.headers["location"] == "http://shop.example:8443/account"
    # The default: the backend gets its own Host, and its URLs are rewritten.
    default = httpx.get(
        f"{setup.proxy.url}/account/?show-host", headers={"Host": "shop.example:8443"}
    )
    assert default.headers["x-seen-host"] == setup.legacy.url.removeprefix("http://")
    assert default.headers["location"] == "http://shop.example:8443/account"
