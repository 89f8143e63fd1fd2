"""``strangler load`` against real servers: the gate, the evidence, the reports, the mix."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from shadow.corpus import write_corpus
from shadow.exchange import CapturedRequest
from strangler.cli import main
from strangler.config import load_config
from strangler.store import Store
from tests.load.apps import Backend

Backends = Callable[[Backend, Backend], tuple[str, str]]
WriteConfig = Callable[..., Path]

ROUTES = [
    {"route": "GET /orgs/{slug}", "examples": {"slug": ["acme", "hope"]}, "weight": 3},
    {"route": "GET /health"},
]


def test_fast_new_against_slow_legacy_passes_and_is_stored(
    backends: Backends,
    write_config: WriteConfig,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    legacy, new = backends(Backend(delays={"/": 0.025}), Backend())
    config = write_config(legacy, new, ROUTES)
    md, html = tmp_path / "load.md", tmp_path / "load.html"
    argv = ["load", "-c", str(config), "--json", "--report-md", str(md), "--report-html", str(html)]

    assert main(argv) == 0

    report = json.loads(capsys.readouterr().out)
    assert report["gate"]["passed"] is True
    verdicts = {v["route"]: v for v in report["gate"]["routes"]}
    assert set(verdicts) == {"GET /orgs/{slug}", "GET /health"}
    assert all(v["passed"] for v in verdicts.values())
    orgs = verdicts["GET /orgs/{slug}"]
    assert orgs["legacy_p50"] > 20 > orgs["new_p50"]
    assert [t["target"] for t in report["targets"]] == ["legacy", "new"]
    assert len(report["evidence"]) == 2

    store = Store(load_config(config).store)
    stored = store.latest_evidence("load", "GET /orgs/{slug}")
    store.close()
    assert stored is not None
    assert stored.passed
    assert stored.summary["legacy_p50"] == orgs["legacy_p50"]
    assert stored.subject == f"{legacy} vs {new}"

    text = md.read_text()
    assert "## Load gate: passed" in text
    assert "| GET /orgs/{slug} | PASS |" in text
    page = html.read_text()
    assert "Plotly.newPlot" in page  # the charts are drawn ...
    assert 'src="http' not in page  # ... with the library inlined, nothing fetched to view


def test_slow_or_failing_new_fails_the_gate_with_the_figures(
    backends: Backends,
    write_config: WriteConfig,
    capsys: pytest.CaptureFixture[str],
) -> None:
    legacy, new = backends(
        Backend(delays={"/slow": 0.01}),
        Backend(delays={"/slow": 0.04}, statuses={"/broken": 500}),
    )
    routes = [{"route": "GET /slow"}, {"route": "GET /broken"}]
    config = write_config(legacy, new, routes, users=6)

    assert main(["load", "-c", str(config)]) == 1

    out = capsys.readouterr().out
    assert "load gate failed" in out
    assert "GET /slow: latency: new p50 " in out
    assert "Mann-Whitney U p=" in out
    assert "GET /broken: failures: new 100.00% vs legacy 0.00%" in out
    store = Store(load_config(config).store)
    try:
        slow = store.latest_evidence("load", "GET /slow")
        broken = store.latest_evidence("load", "GET /broken")
    finally:
        store.close()
    assert slow is not None
    assert not slow.passed
    assert slow.summary["p50_ratio"] > 1.5
    assert broken is not None
    assert not broken.passed
    assert broken.summary["new_failure_rate"] == 1.0


def test_the_corpus_mix_is_respected_through_the_proxy_url(
    serve: Callable[..., object],
    write_config: WriteConfig,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    target = Backend()
    url = serve(target).url  # type: ignore[attr-defined]
    corpus = tmp_path / "corpus.jsonl"
    recorded = [CapturedRequest("GET", "/orgs/acme", route="GET /orgs/{slug}")] * 7
    recorded += [CapturedRequest("GET", "/health", route="GET /health")] * 2
    recorded += [CapturedRequest("GET", "/items", "page=2", route="GET,POST /items")]
    recorded += [CapturedRequest("POST", "/items", body=b"{}", route="GET,POST /items")] * 5
    write_corpus(corpus, [(r, None) for r in recorded])
    config = write_config("http://127.0.0.1:9", "http://127.0.0.1:9", [], duration="3s")
    argv = ["load", "-c", str(config), "--target", "proxy", "--proxy-url", url]

    assert main([*argv, "--corpus", str(corpus), "--json", "--seed", "7"]) == 0

    report = json.loads(capsys.readouterr().out)
    (result,) = report["targets"]
    assert result["target"] == "proxy"
    total = result["requests"]
    assert total > 300
    shares = {r["route"]: r["requests"] / total for r in result["routes"]}
    assert shares["GET /orgs/{slug}"] == pytest.approx(0.7, abs=0.05)
    assert shares["GET /health"] == pytest.approx(0.2, abs=0.05)
    assert shares["GET,POST /items"] == pytest.approx(0.1, abs=0.04)
    assert target.methods["POST"] == 0  # recorded writes are not replayed by default
    assert sum(target.hits.values()) >= total
    assert report["scenario"]["notes"] == [
        "GET,POST /items: 5 recorded write request(s) not sent "
        "(set load_writes: true on the route to send them)"
    ]
    assert "gate" not in report


def test_an_in_process_backend_cannot_be_load_tested(
    write_config: WriteConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config("http://127.0.0.1:9", "examples.rewrite:app", ROUTES)
    assert main(["load", "-c", str(config)]) == 2
    err = capsys.readouterr().err
    assert "new: got 'examples.rewrite:app'" in err
    assert "in-process app cannot be load-tested" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--route", "GET /nope"], "no route 'GET /nope' in the config"),
        (["--duration", "soon"], "--duration: got 'soon', expected a duration like 90"),
        (["--users", "0"], "--users: got 0, expected at least 1"),
        (["--target", "staging"], "--target: got 'staging', expected legacy, new, proxy or both"),
        (["--corpus", "missing.jsonl"], "--corpus: got 'missing.jsonl', expected an existing"),
    ],
)
def test_user_errors_are_one_clear_line(
    write_config: WriteConfig,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    config = write_config("http://127.0.0.1:9", "http://127.0.0.1:9", ROUTES)
    assert main(["load", "-c", str(config), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
