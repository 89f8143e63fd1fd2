"""The pytest plugin, run with pytest's own pytester against real legacy and new servers."""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from shadow.exchange import CapturedRequest, CapturedResponse
from strangler.config import load_config
from strangler.store import Store
from tests.parity.conftest import ORGS, USERS, Pair, get, write_config

# The inner runs import strangler's modules that the outer run imported already.
QUIET = ("-W", "ignore::pytest.PytestAssertRewriteWarning", "-p", "no:cacheprovider")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*QUIET, *args)


def _urls(pair: Pair) -> list[str]:
    return ["--parity-legacy", pair.legacy.url, "--parity-new", pair.new.url]


def test_matching_pair_passes_with_one_test_per_entry(
    pytester: pytest.Pytester, pair: Pair, make_corpus: Callable[..., Path]
) -> None:
    corpus = make_corpus(
        [get("/orgs/acme", ORGS), get("/orgs/initech", ORGS), get("/users/1", USERS)]
    )
    result = run(pytester, "--parity-corpus", str(corpus), *_urls(pair), "-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "*collected 3 items",
            "*corpus.jsonl::GET /orgs/{slug}::* PASSED*",
            "*corpus.jsonl::GET /users/{id}::* PASSED*",
        ]
    )
    assert result.ret == 0
    # both sides were called for every entry (legacy twice, to tell noise apart)
    assert len(pair.new_api.calls) == 3
    assert len(pair.legacy_api.calls) == 6


def test_mismatch_fails_with_a_readable_field_level_diff(
    pytester: pytest.Pytester, pair: Pair, make_corpus: Callable[..., Path]
) -> None:
    corpus = make_corpus([get("/orgs/acme", ORGS), get("/orgs/broken", ORGS)])
    result = run(pytester, "--parity-corpus", str(corpus), *_urls(pair))
    result.assert_outcomes(passed=1, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "GET /orgs/broken  (route GET /orgs/{slug}, *)",
            "mismatch, severity value: 1 difference*",
            "*severity*kind*path*legacy*new",
            '*value*value*$.plan*"pro"*"free"',
            "legacy: 200 application/json*new: 200 application/json*",
        ]
    )
    # a diff, not a dump: no traceback, and the noisy timestamp is not listed as a difference
    assert "Traceback" not in result.stdout.str()
    assert "$.at" not in result.stdout.str()


def test_test_ids_are_stable_across_runs_and_orders(
    pytester: pytest.Pytester, pair: Pair, make_corpus: Callable[..., Path]
) -> None:
    entries = [get("/orgs/acme", ORGS), get("/users/1", USERS), get("/orgs/x", ORGS, "a=1")]
    first = run(pytester, "--parity-corpus", str(make_corpus(entries)), *_urls(pair), "--co", "-q")
    second = run(
        pytester,
        "--parity-corpus",
        str(make_corpus(entries[::-1])),
        *_urls(pair),
        "--co",
        "-q",
    )
    ids = [line for line in first.stdout.lines if "::" in line]
    assert len(ids) == 3
    assert sorted(ids) == sorted(line for line in second.stdout.lines if "::" in line)
    routes = [i.split("::")[1] for i in ids]
    assert routes == sorted(routes) == [ORGS, ORGS, USERS]  # grouped per route


def test_junit_xml_names_the_route_and_entry(
    pytester: pytest.Pytester, pair: Pair, make_corpus: Callable[..., Path]
) -> None:
    corpus = make_corpus([get("/orgs/acme", ORGS), get("/orgs/gone", ORGS)])
    xml_path = pytester.path / "parity.xml"
    run(pytester, "--parity-corpus", str(corpus), *_urls(pair), f"--junitxml={xml_path}")
    cases = ET.parse(xml_path).getroot().iter("testcase")
    by_class = [(c.get("classname"), c.find("failure") is not None) for c in cases]
    assert sorted(by_class) == [
        ("corpus.jsonl.GET /orgs/{slug}", False),
        ("corpus.jsonl.GET /orgs/{slug}", True),
    ]
    failure = next(c for c in ET.parse(xml_path).getroot().iter("failure"))
    assert "$.plan" in (failure.text or "") + (failure.get("message") or "")


def test_k_selects_one_route(
    pytester: pytest.Pytester, pair: Pair, make_corpus: Callable[..., Path]
) -> None:
    corpus = make_corpus([get("/orgs/broken", ORGS), get("/users/1", USERS)])
    result = run(pytester, "--parity-corpus", str(corpus), *_urls(pair), "-k", "users")
    result.assert_outcomes(passed=1, deselected=1)
    assert result.ret == 0
    assert pair.new_api.calls == ["GET /users/1"]  # the deselected entry was never replayed


def test_x_stops_at_the_first_mismatch(
    pytester: pytest.Pytester, pair: Pair, make_corpus: Callable[..., Path]
) -> None:
    corpus = make_corpus([get("/orgs/broken", ORGS), get("/orgs/gone", ORGS)])
    result = run(pytester, "--parity-corpus", str(corpus), *_urls(pair), "-x")
    result.assert_outcomes(failed=1)


def test_writes_are_skipped_with_a_reason_unless_a_sandbox_is_set(
    pytester: pytest.Pytester,
    pair: Pair,
    make_corpus: Callable[..., Path],
    serve: Callable[..., object],
) -> None:
    post = CapturedRequest(
        "POST",
        "/orders",
        headers=(("content-type", "application/json"),),
        body=b'{"item": 1}',
        route="POST /orders",
    )
    recorded = CapturedResponse(
        201, (("content-type", "application/json"),), b'{"id": 1, "status": "created"}'
    )
    corpus = make_corpus([(post, recorded)])
    result = run(pytester, "--parity-corpus", str(corpus), *_urls(pair), "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*POST is not safe to replay: not sent; set --parity-sandbox*"])
    assert pair.legacy_api.calls == []
    assert pair.new_api.calls == []

    from tests.parity.conftest import Api

    sandbox_api = Api("new")
    sandbox = serve(sandbox_api)
    result = run(
        pytester,
        "--parity-corpus",
        str(corpus),
        *_urls(pair),
        "--parity-sandbox",
        sandbox.url,  # type: ignore[attr-defined]
    )
    result.assert_outcomes(passed=1)
    # the write went to the sandbox only; legacy's answer is the recorded one
    assert sandbox_api.calls == ["POST /orders"]
    assert pair.legacy_api.calls == []
    assert pair.new_api.calls == []


def test_legacy_route_mismatch_is_reported_not_failing_unless_strict(
    pytester: pytest.Pytester, pair: Pair, make_corpus: Callable[..., Path]
) -> None:
    config = write_config(pytester.path / "strangler.yaml", pair, orgs_mode="legacy")
    corpus = make_corpus([get("/orgs/broken", ORGS), get("/orgs/acme", ORGS)])
    args = ["--parity-corpus", str(corpus), "--parity-config", str(config), "--parity-no-store"]
    result = run(pytester, *args, "-rx")
    result.assert_outcomes(passed=1, xfailed=1)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*differences on routes that do not gate*",
            '*$.plan*"pro"*"free"*',
            "*parity mismatch reported, not failing: route GET /orgs/{slug}, mode legacy*",
        ]
    )
    strict = run(pytester, *args, "--parity-strict")
    strict.assert_outcomes(passed=1, failed=1)
    assert strict.ret == pytest.ExitCode.TESTS_FAILED


@pytest.mark.parametrize(("mode", "gating"), [("canary", False), ("new", False), ("shadow", True)])
def test_mismatch_on_a_gating_route_fails_the_build(
    pytester: pytest.Pytester,
    pair: Pair,
    make_corpus: Callable[..., Path],
    mode: str,
    gating: bool,
) -> None:
    config = write_config(pytester.path / "strangler.yaml", pair, orgs_mode=mode, gating=gating)
    corpus = make_corpus([get("/orgs/gone", ORGS), get("/users/7", USERS)])
    result = run(
        pytester,
        "--parity-corpus",
        str(corpus),
        "--parity-config",
        str(config),
        "--parity-no-store",
    )
    # GET /orgs/{slug} gates and fails; GET /users/{id} is in legacy: reported only
    result.assert_outcomes(failed=1, xfailed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["fails the build: GET /orgs/{slug}"])


def test_live_mode_from_the_store_wins_over_the_config(
    pytester: pytest.Pytester, pair: Pair, make_corpus: Callable[..., Path]
) -> None:
    config_path = write_config(pytester.path / "strangler.yaml", pair, orgs_mode="shadow")
    cfg = load_config(config_path)
    store = Store(cfg.store)
    store.ensure_schema()
    store.flip(
        ORGS,
        initial_mode="shadow",
        initial_percent=None,
        to_mode="canary",
        to_percent=Decimal("5"),
        reason="test",
    )
    store.close()
    corpus = make_corpus([get("/orgs/broken", ORGS)])
    result = run(pytester, "--parity-corpus", str(corpus), "--parity-config", str(config_path))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*route GET /orgs/{slug}, mode canary (live)*"])


def test_reports_and_store_evidence(
    pytester: pytest.Pytester, pair: Pair, make_corpus: Callable[..., Path]
) -> None:
    config_path = write_config(pytester.path / "strangler.yaml", pair, orgs_mode="canary")
    corpus = make_corpus(
        [
            get("/orgs/acme", ORGS),
            get("/orgs/broken", ORGS),
            get("/orgs/gone", ORGS),
            get("/users/1", USERS),
            get("/users/7", USERS),
        ]
    )
    md, page = pytester.path / "out" / "parity.md", pytester.path / "out" / "parity.html"
    result = run(
        pytester,
        "--parity-corpus",
        str(corpus),
        "--parity-config",
        str(config_path),
        "--parity-report-md",
        str(md),
        "--parity-report-html",
        str(page),
    )
    result.assert_outcomes(passed=2, failed=2, xfailed=1)
    assert "live modes not read" not in result.stdout.str()  # a fresh store is created

    text = md.read_text()
    assert text.startswith("# Parity: 2 of 5 replayed exchanges match (40.0%)")
    assert "**Fails the build:** `GET /orgs/{slug}` (canary)" in text
    assert (
        "| `GET /orgs/{slug}` | canary | yes | 33.3% (1/3) | 1 | 0 | 2 | 0 | 0 | blocked |" in text
    )
    assert "| `GET /users/{id}` | legacy | no | 50.0% (1/2) | 1 | 0 | 1 | 0 | 0 | blocked |" in text
    assert "## Routes that would block a flip" in text
    # top differences: the missing field (schema) ranks above the changed value
    orgs_section = text.split("### `GET /orgs/{slug}`")[1]
    assert orgs_section.index("schema") < orgs_section.index("| value |")
    assert '`$.plan` | missing | 1 | `"pro"` | `(absent)`' in orgs_section

    page_text = page.read_text()
    assert "<script>alert(1)</script>" not in page_text  # values from backends are escaped
    assert html.escape("<script>alert(1)</script>") in page_text
    assert "Fails the build" in page_text
    assert 'class="pair"' in page_text

    store = Store(load_config(config_path).store)
    orgs = store.latest_evidence("parity", ORGS)
    users = store.latest_evidence("parity", USERS)
    store.close()
    assert orgs is not None
    assert users is not None
    assert orgs.passed is False
    assert orgs.summary["mismatched"] == 2
    assert orgs.summary["pass_rate"] == pytest.approx(1 / 3)
    assert users.summary["matched"] == 1
    assert users.subject == "corpus.jsonl"


def test_without_options_the_plugin_adds_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_one():\n    assert True\n")
    result = run(pytester)
    result.assert_outcomes(passed=1)
    assert "strangler parity" not in result.stdout.str()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--parity-legacy", "http://127.0.0.1:1"], "*--parity-legacy need(s) --parity-corpus*"),
        (["--parity-corpus", "missing.jsonl"], "*--parity-corpus missing.jsonl: no such file*"),
        (["--parity-corpus", "{corpus}"], "*give --parity-legacy URL and --parity-new URL*"),
        (
            ["--parity-corpus", "{corpus}", "--parity-legacy", "ftp://x", "--parity-new", "x"],
            "*--parity-legacy 'ftp://x': expected an http(s):// URL*",
        ),
    ],
)
def test_usage_errors_are_one_clear_line(
    pytester: pytest.Pytester,
    make_corpus: Callable[..., Path],
    args: list[str],
    message: str,
) -> None:
    corpus = make_corpus([get("/orgs/acme", ORGS)])
    result = run(pytester, *[a.replace("{corpus}", str(corpus)) for a in args])
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "Traceback" not in result.stderr.str()


def test_a_malformed_corpus_line_names_the_file_and_line(
    pytester: pytest.Pytester, pair: Pair
) -> None:
    corpus = pytester.path / "bad.jsonl"
    corpus.write_text('{"method": "GET", "path": "/a"}\n{"nope": 1}\n')
    result = run(pytester, "--parity-corpus", str(corpus), *_urls(pair))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{corpus}:2: not a corpus entry*"])


def test_an_unreachable_backend_is_an_error_not_a_diff(
    pytester: pytest.Pytester, pair: Pair, make_corpus: Callable[..., Path]
) -> None:
    from tests.conftest import free_port

    corpus = make_corpus([get("/orgs/acme", ORGS)])
    dead = f"http://127.0.0.1:{free_port()}"
    result = run(
        pytester,
        "--parity-corpus",
        str(corpus),
        "--parity-legacy",
        pair.legacy.url,
        "--parity-new",
        dead,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["GET /orgs/acme: could not replay on new: cannot connect to*"])


def test_fields_that_differ_between_two_legacy_answers_are_noise(
    pytester: pytest.Pytester, pair: Pair, make_corpus: Callable[..., Path]
) -> None:
    corpus = make_corpus([get(f"/users/{i}", USERS, "trace=1") for i in range(100, 124)])
    md = pytester.path / "parity.md"
    result = run(
        pytester, "--parity-corpus", str(corpus), *_urls(pair), "--parity-report-md", str(md)
    )
    result.assert_outcomes(passed=24)
    result.stdout.fnmatch_lines(["GET /users/{id}*100% (24/24)*0*24*0*0*0"])
    # enough noise samples: the report proposes a rule for the field (never applies it)
    text = md.read_text()
    assert "## Suggested rules" in text
    assert '`masks: [{path: "$.trace", shape: uuid}]`' in text
    # without the second legacy call, nothing tells the random id from a real difference
    blind = run(pytester, "--parity-corpus", str(corpus), *_urls(pair), "--parity-no-noise")
    blind.assert_outcomes(failed=24)
    blind.stdout.fnmatch_lines(["*value*value*$.trace*"])
