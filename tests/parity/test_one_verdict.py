"""One verdict for the same traffic: one recorded set replayed through shadow mode and
through the parity plugin gets the same per-route counts and the same findings."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from shadow.corpus import write_corpus
from shadow.exchange import CapturedRequest
from strangler.config import load_config
from strangler.proxy import Proxy
from strangler.recorder import Recorder
from strangler.report import build_report
from strangler.shadowing import attach_shadow
from strangler.store import Store
from tests.conftest import start_server
from tests.parity.test_plugin import QUIET
from tests.shadow.noisy_pair import _app

# noise on every route (timestamps, ids, shuffled tags, echoed headers, charset, CORS);
# a regression of its own on every route but the first
PATHS = ["/n/clean", "/r/status", "/r/missing", "/r/type", "/r/lost", "/r/added", "/r/rare"]
PER_ROUTE = 20


def _config(folder: Path, legacy: str, new: str, store: str) -> Path:
    path = folder / f"{store}.yaml"
    data: dict[str, Any] = {
        "legacy": legacy,
        "new": new,
        "store": f"sqlite:///{folder / store}.db",
        "routes": [{"route": f"GET {p}", "mode": "shadow"} for p in PATHS],
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _through_shadow(config: Path, corpus: list[CapturedRequest]) -> dict[str, Any]:
    cfg = load_config(config)
    store = Store(cfg.store)
    store.ensure_schema()
    proxy = Proxy(cfg)
    runner = attach_shadow(proxy, cfg, store)
    served = start_server(proxy)
    try:
        with httpx.Client(base_url=served.url, timeout=30) as client:
            for request in corpus:
                client.get(request.path, headers=dict(request.headers))
        deadline = time.monotonic() + 60
        while runner.submitted < len(corpus) or runner.in_flight:
            assert time.monotonic() < deadline, "shadow calls did not finish"
            time.sleep(0.01)
        recorder = runner.sink
        assert isinstance(recorder, Recorder)
        assert recorder.flush(timeout=30)
        report = build_report(store, cfg, top=None)
    finally:
        served.stop()
        store.close()
    return {
        r.route: (
            r.compared,
            r.matched + r.noise,
            r.mismatched,
            sorted(f.field for f in r.fields if f.mismatches and f.status != "noise"),
        )
        for r in report.routes
    }


def _through_the_plugin(pytester: pytest.Pytester, config: Path, corpus: Path) -> dict[str, Any]:
    pytester.runpytest(*QUIET, "--parity-corpus", str(corpus), "--parity-config", str(config))
    store = Store(load_config(config).store)
    try:
        out = {}
        for path in PATHS:
            evidence = store.latest_evidence("parity", f"GET {path}")
            assert evidence is not None, path
            s = evidence.summary
            fields = sorted({f["field"] for f in s["top_fields"]})
            out[f"GET {path}"] = (s["compared"], s["matched"] + s["noise"], s["mismatched"], fields)
        return out
    finally:
        store.close()


def test_shadow_and_the_parity_plugin_judge_one_recorded_set_alike(
    pytester: pytest.Pytester,
) -> None:
    legacy, new = start_server(_app("legacy")), start_server(_app("new"))
    try:
        requests = [
            CapturedRequest("GET", p, "", (("accept", "application/json"),), b"", route=f"GET {p}")
            for _ in range(PER_ROUTE)
            for p in PATHS
        ]
        corpus = pytester.path / "corpus.jsonl"
        write_corpus(corpus, [(r, None) for r in requests])
        shadowed = _through_shadow(_config(pytester.path, legacy.url, new.url, "shadow"), requests)
        plugin = _through_the_plugin(
            pytester, _config(pytester.path, legacy.url, new.url, "parity"), corpus
        )
    finally:
        new.stop()
        legacy.stop()
    assert shadowed == plugin
    assert shadowed["GET /n/clean"] == (PER_ROUTE, PER_ROUTE, 0, [])
    assert shadowed["GET /r/missing"][2:] == (PER_ROUTE, ["$.email"])
    assert shadowed["GET /r/rare"][2] == 1  # one request in 20 differs on new: seen by both
