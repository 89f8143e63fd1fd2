"""Secrets never stored, wherever they sit: planted in requests and in answers of every
content type, they reach neither the store, nor a report format, nor the dashboard, nor
the logs, nor the parity corpus recorded from the store, nor the load reports made from it.
Besides the built-in names, the config's own ``redact`` fields and headers are planted."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from strangler.admin import create_admin_app
from strangler.report import build_report, render

# Each value is unique and greppable; where it sits is in the comment.
SECRETS = {
    "s01": "tok-req-header-01",  # request header Authorization
    "s02": "tok-req-query-02",  # request query ?api_key=
    "s03": "pw-req-json-03",  # request JSON {"password": ...}
    "s04": "pw-req-form-04",  # request form password=
    "s05": "cookie-resp-json-05",  # answer JSON key named like a header: "cookie"
    "s06": "xkey-resp-json-06",  # answer JSON key "X-Api-Key"
    "s07": "auth-resp-json-07",  # answer JSON key "Authorization"
    "s08": "urltok-resp-08",  # answer JSON string URL ...?token=
    "s09": "urlkey-resp-09",  # answer JSON string URL ...&api_key=
    "s10": "nested-pw-10",  # answer JSON string carrying JSON {"password": ...}
    "s11": "nested-secret-11",  # answer JSON string carrying JSON, deeper {"a": {"client_secret"}}
    "s12": "form-in-string-12",  # answer JSON string carrying form data token=...&x=1
    "s13": "deep-token-13",  # answer JSON key "refreshToken" deep in a list
    "s14": "db-password-14",  # answer JSON key "db_password"
    "s15": "text-url-15",  # text/plain answer with a URL ?access_token=
    "s16": "html-url-16",  # text/html answer with a link ?session_token=
    "s17": "form-resp-17",  # form-urlencoded answer secret=
    "s18": "xml-url-18",  # application/xml answer with ?apikey=
    "s19": "stripe-secret-19",  # answer JSON key "stripeSecretKey"
    "s20": "resp-header-20",  # answer header X-Auth-Token
    "s21": "donor-note-21",  # answer JSON key "donorNote" (configured redact.fields)
    "s22": "cvv-path-22",  # answer JSON $.card.cvv (configured redact.fields path)
    "s23": "session-hdr-23",  # request header X-Session (configured redact.headers)
    "s24": "req-note-24",  # request JSON {"donorNote": ...} (configured redact.fields)
}
REDACT = {"fields": ["donorNote", "$.card.cvv"], "headers": ["x-session"]}
CARDS = ["4111+1111+1111+1111", "4111.1111.1111.1111", "5555-5555-5555-4444"]


def _answer(path: str) -> tuple[str, bytes, list[tuple[bytes, bytes]]]:
    s = SECRETS
    headers = [(b"x-auth-token", s["s20"].encode())]
    if path == "/json":
        doc: Any = {
            "cookie": s["s05"],
            "X-Api-Key": s["s06"],
            "Authorization": s["s07"],
            "next": f"https://pay.example/cb?token={s['s08']}&page=2",
            "image": f"https://cdn.example/i.png?size=2&api_key={s['s09']}",
            "body": json.dumps({"password": s["s10"], "user": "ada"}),
            "raw": json.dumps({"a": {"client_secret": s["s11"]}}),
            "form": f"token={s['s12']}&x=1",
            "items": [{"meta": {"refreshToken": s["s13"]}}],
            "db_password": s["s14"],
            "stripeSecretKey": s["s19"],
            "cards": CARDS,
            "donor": {"donorNote": s["s21"], "name": "ada"},
            "card": {"cvv": s["s22"], "brand": "visa"},
        }
        return "application/json", orjson.dumps(doc), headers
    if path == "/text":
        return (
            "text/plain",
            f"see https://x.example/?access_token={s['s15']} {CARDS[0]}".encode(),
            headers,
        )
    if path == "/html":
        return "text/html", f'<a href="/go?session_token={s["s16"]}">go</a>'.encode(), headers
    if path == "/form":
        return "application/x-www-form-urlencoded", f"secret={s['s17']}&a=1".encode(), headers
    return "application/xml", f"<u>https://x.example/?apikey={s['s18']}</u>".encode(), headers


def _side(name: str) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        ctype, body, headers = _answer(scope["path"])
        if name == "new":
            body = body.replace(b"ada", b"bob")  # a difference, so examples are kept
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", ctype.encode()), *headers],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


def cfg_file(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "strangler.yaml"
    path.write_text(json.dumps(data), encoding="utf-8")  # JSON is YAML
    return path


def _corpus_and_load_reports(config: Path) -> dict[str, str]:
    """`strangler record --from-store`, then a short `strangler load` replaying that corpus
    against the same two sides: every file and every line they print."""
    from contextlib import redirect_stderr, redirect_stdout
    from io import StringIO

    from strangler.cli import main

    folder = config.parent
    corpus, md, html = folder / "corpus.jsonl", folder / "load.md", folder / "load.html"
    printed = StringIO()
    with redirect_stdout(printed), redirect_stderr(printed):
        assert main(["record", "-c", str(config), "--from-store", "-o", str(corpus)]) == 0
        main(
            [
                "load", "-c", str(config), "--corpus", str(corpus), "--duration", "1s",
                "--users", "2", "--no-evidence", "--json",
                "--report-md", str(md), "--report-html", str(html),
            ]
        )  # fmt: skip
    assert corpus.stat().st_size > 0, "no corpus was recorded: the test proves nothing"
    assert md.exists(), printed.getvalue()[-2000:]
    return {
        "parity corpus": corpus.read_text(),
        "load md": md.read_text(),
        "load html": html.read_text(),
        "record and load output": printed.getvalue(),
    }


def test_no_planted_secret_is_stored_reported_shown_or_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from strangler.config import parse_config
    from strangler.proxy import Proxy
    from strangler.recorder import Recorder
    from strangler.shadowing import attach_shadow
    from strangler.store import Store
    from tests.conftest import start_server

    caplog.set_level(logging.DEBUG)
    legacy, new = start_server(_side("legacy")), start_server(_side("new"))
    store_file = tmp_path / "store.db"
    paths = ["/json", "/text", "/html", "/form", "/xml"]
    cfg = parse_config(
        {
            "legacy": legacy.url,
            "new": new.url,
            "store": f"sqlite:///{store_file}",
            "rules": {"redact": REDACT},
            "routes": [
                {"route": f"* {p}", "mode": "shadow", "shadow": {"writes": "allow"}} for p in paths
            ],
        }
    )
    store = Store(cfg.store)
    store.ensure_schema()
    proxy = Proxy(cfg)
    runner = attach_shadow(proxy, cfg, store)
    recorder = runner.sink
    assert isinstance(recorder, Recorder)
    recorder.match_sample = 1.0  # keep every exchange: the worst case for leaks
    served = start_server(proxy)
    try:
        s = SECRETS
        with httpx.Client(base_url=served.url, timeout=30) as c:
            for p in paths:
                c.get(
                    p,
                    params={"api_key": s["s02"]},
                    headers={"authorization": f"Bearer {s['s01']}", "x-session": s["s23"]},
                )
                c.post(p, json={"password": s["s03"], "card": CARDS[1], "donorNote": s["s24"]})
                c.post(
                    p,
                    content=f"password={s['s04']}&n=1",
                    headers={"content-type": "application/x-www-form-urlencoded"},
                )
        while runner.submitted < 3 * len(paths) or runner.in_flight:
            pass
        assert recorder.flush(timeout=30)
        report = build_report(store, cfg)
        outputs = {fmt: render(report, fmt) for fmt in ("table", "md", "json", "html")}
        admin_server = start_server(create_admin_app(cfg, store))
        with httpx.Client(base_url=admin_server.url, timeout=30) as admin:
            outputs["dashboard"] = admin.get("/").text
            for route in report.routes:
                page = admin.get("/route", params={"route": route.route}).text
                outputs[f"page {route.route}"] = page
        admin_server.stop()
        outputs.update(_corpus_and_load_reports(cfg_file(tmp_path, cfg.model_dump(mode="json"))))
    finally:
        served.stop()
        new.stop()
        legacy.stop()
    stored = store_file.read_bytes()
    planted = [
        *SECRETS.values(),
        *(c.replace("+", "").replace(".", "").replace("-", "") for c in CARDS),
        *CARDS,
    ]
    leaks = [v for v in planted if v.encode() in stored]
    for where, text in outputs.items():
        leaks += [f"{where}: {v}" for v in planted if v in text]
    # the logs of the proxy, the shadow side and the servers (not this test's own client)
    ours = "\n".join(
        r.getMessage() for r in caplog.records if r.name.startswith(("strangler", "uvicorn"))
    )
    leaks += [f"log: {v}" for v in planted if v in ours]
    assert leaks == []
    assert report.routes, "nothing was recorded: the test proves nothing"
    assert any(r.fields for r in report.routes)
    store.close()
