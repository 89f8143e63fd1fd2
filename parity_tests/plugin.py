"""The pytest plugin (entry point ``pytest11``: installing strangler is enough).

Without ``--parity-corpus`` it only declares its options: no test, no import of the
replay machinery, nothing to pay in an ordinary pytest run. With it::

    pytest --parity-corpus corpus.jsonl \\
           --parity-legacy http://127.0.0.1:8001 --parity-new http://127.0.0.1:8002
    pytest --parity-corpus corpus.jsonl --parity-config strangler.yaml \\
           --parity-report-md parity.md --parity-report-html parity.html --junitxml parity.xml

one test per corpus entry (``corpus.jsonl::GET /orgs/{slug}::3f2a1c9d``), replayed on both
sides and compared with the shadow engine. A mismatch fails the build when its route is in
``canary``, ``new`` or ``retired`` (the live mode from the store, else the config's), is
marked ``gating: true``, or with ``--parity-strict``; otherwise it is reported as an xfail.
"""

from __future__ import annotations

import pytest

__all__ = ["pytest_addoption", "pytest_configure"]

_DEPENDENT = (
    "parity_legacy",
    "parity_new",
    "parity_sandbox",
    "parity_config",
    "parity_report_md",
    "parity_report_html",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(
        "parity", "strangler parity tests: replay a recorded corpus against legacy and new"
    )
    group.addoption(
        "--parity-corpus",
        metavar="FILE",
        help="JSON Lines corpus (strangler record / strangler corpus import-har): "
        "one test per entry",
    )
    group.addoption("--parity-legacy", metavar="URL", help="legacy base URL (or module:attr)")
    group.addoption("--parity-new", metavar="URL", help="new base URL (or module:attr)")
    group.addoption(
        "--parity-sandbox",
        metavar="URL",
        help="a new backend with its own data: writes (POST/PUT/PATCH/DELETE) are replayed "
        "there and compared with legacy's recorded answer",
    )
    group.addoption(
        "--parity-config",
        metavar="FILE",
        help="strangler YAML config: backends, rules, route modes, gating and the store",
    )
    group.addoption(
        "--parity-strict",
        action="store_true",
        default=False,
        help="mismatches fail the build on every route (also legacy/shadow)",
    )
    group.addoption("--parity-report-md", metavar="FILE", help="write a Markdown summary")
    group.addoption(
        "--parity-report-html", metavar="FILE", help="write a self-contained HTML report"
    )
    group.addoption(
        "--parity-concurrency",
        metavar="N",
        type=int,
        default=8,
        help="exchanges replayed at the same time (default 8)",
    )
    group.addoption(
        "--parity-no-noise",
        action="store_true",
        default=False,
        help="do not call legacy twice to tell nondeterministic fields (noise) apart",
    )
    group.addoption(
        "--parity-no-store",
        action="store_true",
        default=False,
        help="with --parity-config: neither read live modes from nor write results to the store",
    )


def pytest_configure(config: pytest.Config) -> None:
    if not config.getoption("parity_corpus"):
        given = [f"--{n.replace('_', '-')}" for n in _DEPENDENT if config.getoption(n)]
        if given:
            raise pytest.UsageError(f"{', '.join(given)} need(s) --parity-corpus FILE")
        return
    from parity_tests.session import ParityOptions, ParityRun

    run = ParityRun(ParityOptions.from_pytest(config))
    config.pluginmanager.register(run, "strangler-parity-run")
