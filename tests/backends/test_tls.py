"""HTTPS backends behind a private CA, with and without client certificates, through the
real proxy: real uvicorn servers speaking TLS on 127.0.0.1, certificates made by trustme."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from strangler.backends import ssl_context
from strangler.config import load_config, parse_config
from strangler.proxy import SERVER_SETTINGS, Proxy
from tests.conftest import LiveServer
from tests.pki import PKI, Hello, make_pki, serve_https
from tests.proxy.ws_sides import WsSide

ROUTE = "GET /orgs/{slug}"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def through_proxy(serve: Callable[..., LiveServer]) -> Callable[..., httpx.Response]:
    """``through_proxy(legacy_backend_config)`` -> the answer to ``GET /orgs/acme``."""

    def _get(legacy: Any, *, path: str = "/orgs/acme") -> httpx.Response:
        config = parse_config(
            {"legacy": legacy, "new": "http://127.0.0.1:9", "routes": [{"route": ROUTE}]}
        )
        proxy = serve(Proxy(config), **SERVER_SETTINGS)
        with httpx.Client(base_url=proxy.url, timeout=30) as client:
            return client.get(path)

    return _get


def _tls(pki: PKI, *, client: bool = False, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"ca_file": str(pki.ca), **extra}
    if client:
        out.update(client_cert=str(pki.client_cert), client_key=str(pki.client_key))
    return out


def test_the_proxy_reaches_an_https_backend_that_trusts_its_private_ca(
    serve: Callable[..., LiveServer], pki: PKI, through_proxy: Callable[..., httpx.Response]
) -> None:
    url = serve_https(serve, Hello(), pki)
    resp = through_proxy({"target": url, "tls": _tls(pki)})
    assert resp.status_code == 200
    assert resp.json() == {"side": "legacy", "path": "/orgs/acme"}


def test_without_the_ca_the_client_gets_a_502_saying_verification_failed(
    serve: Callable[..., LiveServer], pki: PKI, through_proxy: Callable[..., httpx.Response]
) -> None:
    app = Hello()
    resp = through_proxy(serve_https(serve, app, pki))  # the system store: CA unknown
    assert resp.status_code == 502
    body = resp.json()
    assert body["error"] == "upstream_tls_error"
    assert (body["backend"], body["route"]) == ("legacy", ROUTE)
    assert "certificate verify failed" in body["detail"]
    assert "legacy.tls.ca_file" in body["detail"]  # what to do about it
    assert app.calls == 0


def test_a_ca_file_replaces_the_system_store(
    serve: Callable[..., LiveServer], pki: PKI, through_proxy: Callable[..., httpx.Response]
) -> None:
    # the server's CA is not the one configured: trusting another private CA does not help
    url = serve_https(serve, Hello(), pki)
    resp = through_proxy({"target": url, "tls": {"ca_file": str(pki.other_ca)}})
    assert resp.status_code == 502
    assert "certificate verify failed" in resp.json()["detail"]


def test_mutual_tls_answers_with_the_client_certificate_and_refuses_without(
    serve: Callable[..., LiveServer], pki: PKI, through_proxy: Callable[..., httpx.Response]
) -> None:
    app = Hello()
    url = serve_https(serve, app, pki, require_client_cert=True)

    with_cert = through_proxy({"target": url, "tls": _tls(pki, client=True)})
    assert with_cert.status_code == 200
    assert with_cert.json()["side"] == "legacy"
    assert app.calls == 1

    without = through_proxy({"target": url, "tls": _tls(pki)})
    assert without.status_code == 502
    assert without.json()["error"] == "upstream_tls_error"
    assert "client certificate" in without.json()["detail"]
    assert app.calls == 1  # the refused request never reached the app


def test_a_client_certificate_from_another_ca_is_refused(
    serve: Callable[..., LiveServer], pki: PKI, through_proxy: Callable[..., httpx.Response]
) -> None:
    app = Hello()
    url = serve_https(serve, app, pki, require_client_cert=True)
    tls = _tls(pki, client_cert=str(pki.stranger_cert), client_key=str(pki.stranger_key))
    resp = through_proxy({"target": url, "tls": tls})
    assert resp.status_code == 502
    assert "refuse our client certificate" in resp.json()["detail"]
    assert app.calls == 0


def test_a_host_name_mismatch_is_a_502_and_server_hostname_fixes_it(
    serve: Callable[..., LiveServer], pki: PKI, through_proxy: Callable[..., httpx.Response]
) -> None:
    url = serve_https(serve, Hello(), pki, named=True)  # certificate for legacy.internal

    mismatch = through_proxy({"target": url, "tls": _tls(pki)})
    assert mismatch.status_code == 502
    detail = mismatch.json()["detail"]
    assert "mismatch" in detail
    assert "legacy.tls.server_hostname" in detail

    named = through_proxy({"target": url, "tls": _tls(pki, server_hostname="legacy.internal")})
    assert named.status_code == 200


def test_verify_false_connects_anyway_and_says_so_loudly(
    serve: Callable[..., LiveServer],
    pki: PKI,
    through_proxy: Callable[..., httpx.Response],
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = serve_https(serve, Hello(), pki, named=True)  # unknown CA *and* wrong name
    with caplog.at_level(logging.WARNING, logger="strangler.tls"):
        resp = through_proxy({"target": url, "tls": {"verify": False}})
    assert resp.status_code == 200
    warnings = [r.getMessage() for r in caplog.records if r.name == "strangler.tls"]
    assert any("legacy.tls.verify is false" in w and "NOT checked" in w for w in warnings)


def test_relative_paths_are_taken_from_the_config_files_folder(
    serve: Callable[..., LiveServer],
    pki: PKI,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = serve_https(serve, Hello(), pki, require_client_cert=True)
    folder = tmp_path / "deploy"
    (folder / "certs").mkdir(parents=True)
    for src in (pki.ca, pki.client_cert, pki.client_key):
        (folder / "certs" / src.name).write_bytes(src.read_bytes())
    config_file = folder / "strangler.yaml"
    tls = {"ca_file": "certs/ca.pem", "client_cert": "certs/client.pem"}
    tls["client_key"] = "certs/client.key"
    data = {"legacy": {"target": url, "tls": tls}, "new": "http://127.0.0.1:9"}
    config_file.write_text(yaml.safe_dump(data), encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # elsewhere than the config file

    config = load_config(os.path.relpath(config_file))
    assert config.legacy.tls is not None
    assert config.legacy.tls.ca_file == str(folder / "certs" / "ca.pem")

    # the same trust serves any httpx client (the helper every tool uses)
    with httpx.Client(verify=ssl_context(config.legacy.tls), timeout=30) as client:
        assert client.get(f"{url}/ping").json() == {"side": "legacy", "path": "/ping"}


def test_websockets_to_a_wss_backend_use_the_same_trust(
    serve: Callable[..., LiveServer], pki: PKI
) -> None:
    side = WsSide("legacy")
    url = serve_https(serve, side.app, pki, require_client_cert=True)

    def proxy_for(tls: dict[str, Any]) -> str:
        legacy = {"target": url, "tls": tls}
        config = parse_config({"legacy": legacy, "new": "http://127.0.0.1:9"})
        return serve(Proxy(config), **SERVER_SETTINGS).url.replace("http://", "ws://")

    trusted = proxy_for(_tls(pki, client=True))
    with connect(f"{trusted}/ws/echo", open_timeout=30, close_timeout=30, proxy=None) as ws:
        ws.send("hi")
        assert ws.recv(timeout=30) == "legacy:hi"

    untrusted = proxy_for({})
    with (
        pytest.raises(InvalidStatus) as refused,
        connect(f"{untrusted}/ws/echo", open_timeout=30, proxy=None),
    ):
        pass
    assert refused.value.response.status_code == 502
    body = json.loads(refused.value.response.body or b"{}")
    assert body["error"] == "upstream_tls_error"
    assert "certificate verify failed" in body["detail"]
    assert len(side.sessions) == 1  # the refused handshake never reached the app
