"""HTTP transparency through a real proxy: headers, bodies, streaming, errors, control headers."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.conftest import LiveServer
from tests.proxy.conftest import TOKEN, Proxied
from tests.proxy.sides import GZIPPED, SideApp


def test_hop_by_hop_headers_are_removed_both_ways(proxied: Callable[..., Proxied]) -> None:
    p = proxied()
    with p.client() as c:
        c.get(
            "/echo/h",
            headers=[
                ("Connection", "keep-alive, X-Secret"),
                ("X-Secret", "must-not-pass"),
                ("Keep-Alive", "timeout=5"),
                ("TE", "trailers"),
                ("Proxy-Authorization", "Basic Zm9vOmJhcg=="),
                ("X-Kept", "yes"),
            ],
        )
        names = {k for k, _ in p.legacy.calls[-1].headers}
        assert names.isdisjoint({"x-secret", "keep-alive", "te", "proxy-authorization"})
        assert p.legacy.header_values("x-kept") == ["yes"]
        resp = c.get("/hop")
    assert "x-private" not in resp.headers  # named in the upstream's Connection header
    assert "proxy-authenticate" not in resp.headers
    assert resp.headers.get_list("x-multi") == ["1", "2"]


def test_the_client_gets_the_upstream_date_and_server_once(proxied: Callable[..., Proxied]) -> None:
    resp = proxied().get("/echo/d")
    assert resp.headers.get_list("server") == ["uvicorn"]  # the upstream's, not a second one
    assert len(resp.headers.get_list("date")) == 1


def test_repeated_headers_stay_apart_and_in_order(proxied: Callable[..., Proxied]) -> None:
    p = proxied()
    resp = p.get("/cookies/set?user=ann")
    assert resp.headers.get_list("set-cookie") == ["session=ann; Path=/", "b=2"]
    p.get("/echo/r", headers=[("X-Multi", "one"), ("X-Other", "z"), ("X-Multi", "two")])
    sent = [(k, v) for k, v in p.legacy.calls[-1].headers if k.startswith("x-m")]
    assert sent == [("x-multi", "one"), ("x-multi", "two")]


def test_forwarded_headers_from_an_untrusted_client_are_replaced(
    proxied: Callable[..., Proxied],
) -> None:
    p = proxied()
    p.get(
        "/echo/f",
        headers={
            "Host": "shop.example",
            "X-Forwarded-For": "6.6.6.6",
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "evil.example",
        },
    )
    assert p.legacy.header_values("x-forwarded-for") == ["127.0.0.1"]
    assert p.legacy.header_values("x-forwarded-proto") == ["http"]
    assert p.legacy.header_values("x-forwarded-host") == ["shop.example"]
    legacy_host = p.legacy.header_values("host")[0]
    assert legacy_host.startswith("127.0.0.1:")  # the backend's host, not the client's


def test_forwarded_headers_from_a_trusted_proxy_are_kept(proxied: Callable[..., Proxied]) -> None:
    p = proxied(
        [{"route": "GET /echo/{x}", "mode": "canary", "percent": 50, "sticky": "client-ip"}],
        proxy={"trusted_proxies": ["127.0.0.0/8"], "via": True},
    )
    p.get(
        "/echo/f",
        headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "Host": "a.b"},
    )
    calls = p.legacy.calls or p.new.calls
    headers = dict(calls[-1].headers)
    assert headers["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
    assert headers["x-forwarded-proto"] == "https"
    assert headers["via"] == "1.1 strangler"


def test_via_is_added_to_answers_when_enabled(proxied: Callable[..., Proxied]) -> None:
    assert "via" not in proxied().get("/echo/v").headers
    assert proxied(proxy={"via": True}).get("/echo/v").headers["via"] == "1.1 strangler"


def test_upstream_cookies_never_reach_another_client(proxied: Callable[..., Proxied]) -> None:
    p = proxied([{"route": "GET /cookies/{op}", "mode": "new"}])
    with p.client() as ann:
        assert ann.get("/cookies/set?user=ann").status_code == 200
        mine = ann.get("/cookies/show").text  # her own cookies, sent by her client
        assert sorted(mine.split("; ")) == ["b=2", "session=ann"]
    with p.client() as bob:  # a different user, no cookies of his own
        assert bob.get("/cookies/show").text == ""
    assert [dict(c.headers).get("cookie") for c in p.new.calls] == [None, mine, None]


def test_compressed_bodies_pass_untouched(proxied: Callable[..., Proxied]) -> None:
    p = proxied()
    with p.client() as c, c.stream("GET", "/gzip", headers={"Accept-Encoding": "gzip"}) as resp:
        raw = b"".join(resp.iter_raw())
        assert resp.headers["content-encoding"] == "gzip"
        assert resp.headers["content-length"] == str(len(GZIPPED))
    assert raw == GZIPPED
    assert p.legacy.header_values("accept-encoding") == ["gzip"]


def test_no_accept_encoding_is_added(proxied: Callable[..., Proxied]) -> None:
    p = proxied()
    with p.client() as c:
        c.get("/echo/plain", headers={"Accept-Encoding": "identity", "User-Agent": "mine"})
    assert p.legacy.header_values("accept-encoding") == ["identity"]
    assert p.legacy.header_values("user-agent") == ["mine"]


def test_head_204_and_304_have_no_body(proxied: Callable[..., Proxied]) -> None:
    p = proxied()
    with p.client() as c:
        head = c.head("/gzip")
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["content-length"] == str(len(GZIPPED))
        for code in (204, 304):
            resp = c.get(f"/status/{code}")
            assert resp.status_code == code
            assert resp.content == b""


def test_raw_path_and_query_are_forwarded_unchanged(proxied: Callable[..., Proxied]) -> None:
    p = proxied()
    echoed = p.get("/echo/a%2Cb%20c?q=%2F&q=2&empty=").json()
    assert echoed["raw_path"] == "/echo/a%2Cb%20c"
    assert echoed["query"] == "q=%2F&q=2&empty="


def test_an_encoded_slash_is_refused_unless_the_config_keeps_it(
    proxied: Callable[..., Proxied],
) -> None:
    refused = proxied().get("/echo/a%2Fb")
    assert refused.status_code == 400
    assert refused.json()["error"] == "bad_path"
    kept = proxied(proxy={"paths": {"escaped_slashes": "keep"}}).get("/echo/a%2fb%20c")
    assert kept.json()["raw_path"] == "/echo/a%2Fb%20c"


def test_a_slow_streamed_answer_reaches_the_client_before_it_ends(
    proxied: Callable[..., Proxied],
) -> None:
    p = proxied()
    try:
        with p.client() as c, c.stream("GET", "/stream") as resp:
            chunks = resp.iter_raw()
            first = next(chunks)
            # The upstream is still holding the rest until we release it.
            assert first == b"first;"
            p.legacy.release.set()
            assert b"".join(chunks) == b"rest"
    finally:
        p.legacy.release.set()


def test_a_client_leaving_a_streamed_answer_frees_the_backend_connection(
    proxied: Callable[..., Proxied], sides: tuple[SideApp, LiveServer, SideApp, LiveServer]
) -> None:
    # One pooled connection: if the proxy went on reading the answer for nobody, the next
    # request would wait until the backend gives up holding the rest (20 s).
    legacy = {"target": sides[1].url, "max_connections": 1, "timeouts": {"total": 60}}
    p = proxied(legacy=legacy)
    try:
        for i in range(3):
            with p.client() as c, c.stream("GET", "/stream") as resp:
                assert next(resp.iter_raw()) == b"first;"
            # The client left in the middle; the backend still holds the rest.
            answer = p.get(f"/echo/after-{i}", timeout=10)
            assert answer.status_code == 200
            assert answer.json()["path"] == f"/echo/after-{i}"
        assert not p.legacy.release.is_set()
    finally:
        p.legacy.release.set()


def test_a_request_body_streams_to_the_upstream(proxied: Callable[..., Proxied]) -> None:
    p = proxied()

    def body() -> Iterator[bytes]:
        yield b"a" * 1000
        # Only once the upstream holds the first chunk do we send the rest.
        assert p.legacy.got_first_chunk.wait(20), "the proxy buffered the request body"
        yield b"b" * 1000

    resp = p.request("POST", "/upload", content=body())
    assert resp.status_code == 200
    assert p.legacy.calls[-1].body == b"a" * 1000 + b"b" * 1000


def test_a_body_over_the_cap_is_refused_with_413(proxied: Callable[..., Proxied]) -> None:
    p = proxied(proxy={"max_body": 1000})
    resp = p.request("POST", "/echo/big", content=b"x" * 2000)  # Content-Length says so
    assert resp.status_code == 413
    assert resp.json() == {"error": "body_too_large", "route": "* /{path:path}", "limit": "1000"}
    assert p.legacy.calls == []
    assert p.request("POST", "/echo/ok", content=b"x" * 1000).status_code == 200


def test_a_streamed_body_over_the_cap_is_refused_with_413(proxied: Callable[..., Proxied]) -> None:
    p = proxied(proxy={"max_body": 100_000})

    def body() -> Iterator[bytes]:
        for _ in range(40):
            yield b"y" * 10_000

    resp = p.request("POST", "/echo/big", content=body())  # chunked: no Content-Length
    assert resp.status_code == 413
    assert resp.json()["error"] == "body_too_large"
    assert all(len(c.body) < 400_000 for c in p.legacy.calls)  # never the whole body


def test_connect_error_is_502_with_json(proxied: Callable[..., Proxied], dead_url: str) -> None:
    p = proxied([{"route": "GET /orgs/{slug}", "mode": "legacy"}], legacy=dead_url)
    resp = p.get("/orgs/acme")
    assert resp.status_code == 502
    assert resp.json() == {
        "error": "upstream_connect_error",
        "backend": "legacy",
        "route": "GET /orgs/{slug}",
    }
    assert (
        p.proxy.metrics.value(
            "strangler_upstream_errors_total",
            route="GET /orgs/{slug}",
            backend="legacy",
            kind="upstream_connect_error",
        )
        == 1.0
    )


def test_timeout_is_504_with_json(proxied: Callable[..., Proxied]) -> None:
    p = proxied(
        [{"route": "GET /sleep", "mode": "new", "timeouts": {"read": 0.3, "total": 5}}],
    )
    resp = p.get("/sleep?s=3")
    assert resp.status_code == 504
    assert resp.json() == {"error": "upstream_timeout", "backend": "new", "route": "GET /sleep"}
    assert p.get("/sleep?s=0").status_code == 200  # the route and backend still work


@pytest.mark.parametrize(
    ("headers", "side"),
    [
        ({"X-Strangler-Side": "new", "X-Strangler-Token": TOKEN}, "new"),
        ({"X-Strangler-Side": "new", "X-Strangler-Token": "wrong"}, "legacy"),
        ({"X-Strangler-Side": "new"}, "legacy"),
    ],
)
def test_control_header_needs_the_admin_token(
    proxied: Callable[..., Proxied], headers: dict[str, str], side: str
) -> None:
    p = proxied([{"route": "GET /echo/{x}", "mode": "legacy"}])
    assert p.get("/echo/a", headers=headers).json()["side"] == side
    called = p.new if side == "new" else p.legacy
    names = {k for k, _ in called.calls[-1].headers}
    assert "x-strangler-side" not in names
    assert "x-strangler-token" not in names


def test_control_header_cannot_wake_a_retired_legacy(proxied: Callable[..., Proxied]) -> None:
    p = proxied([{"route": "GET /echo/{x}", "mode": "retired"}])
    headers = {"X-Strangler-Side": "legacy", "X-Strangler-Token": TOKEN}
    assert p.get("/echo/a", headers=headers).json()["side"] == "new"
    assert p.legacy.calls == []


def test_keepalive_reuse_under_concurrency(proxied: Callable[..., Proxied]) -> None:
    p = proxied([{"route": "GET /echo/{x}", "mode": "canary", "percent": 50}])
    errors: list[str] = []

    def worker(n: int) -> None:
        with httpx.Client(base_url=p.url, timeout=30) as c:
            for i in range(25):
                r = c.get(f"/echo/{n}-{i}")
                if r.status_code != 200 or r.json()["path"] != f"/echo/{n}-{i}":
                    errors.append(f"{r.status_code} {r.text[:80]}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(p.legacy.calls) + len(p.new.calls) == 200
