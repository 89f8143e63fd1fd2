"""A config file with a real SQLite store for the CLI tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

CONFIG = """\
legacy: http://127.0.0.1:9
new: http://127.0.0.1:9
store: sqlite:///store.db
readiness:
  min_compared: 0  # no traffic in these tests: the gates judge nothing
routes:
  - route: "GET /orgs/{slug}"
    mode: legacy
  - route: "GET,HEAD /orgs/{slug}/forms"
    mode: canary
    percent: 12.5
    sticky: header:X-User-Id
  - route: "POST /payments"
    mode: legacy
"""


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``strangler.yaml`` in a temporary folder, its store a SQLite file beside it."""
    monkeypatch.setenv("COLUMNS", "250")  # rich tables on one line each
    monkeypatch.setenv("STRANGLER_ACTOR", "tester")
    path = tmp_path / "strangler.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """``run("flip", ...)`` -> (exit code, stdout, stderr) of the real CLI in-process."""
    from strangler.cli import main

    def _run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return _run
