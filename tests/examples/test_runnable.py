"""The pair runs as ``python -m examples.legacy|new`` and loads in-process by import string."""

from __future__ import annotations

import importlib
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from a2wsgi import WSGIMiddleware

from tests.conftest import LiveServer, free_port

ROOT = Path(__file__).resolve().parents[2]


def _wait_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> httpx.Response:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within 30 s")


def test_both_apps_run_as_modules(seeded: tuple[Path, Path], tmp_path: Path) -> None:
    procs = []
    try:
        totals = []
        for module, db in (("examples.legacy", seeded[0]), ("examples.new", seeded[1])):
            port, log = free_port(), tmp_path / f"{module}.log"
            with log.open("wb") as out:
                proc = subprocess.Popen(
                    [sys.executable, "-m", module, "--port", str(port), "--db", str(db)],
                    cwd=ROOT,
                    stderr=out,
                )
            procs.append(proc)
            answer = _wait_up(f"http://127.0.0.1:{port}/orgs?limit=1", proc, log)
            assert answer.status_code == 200
            totals.append(answer.json()["total"])
        assert totals[0] == totals[1] > 100
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


def test_legacy_module_refuses_a_missing_database(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "examples.legacy", "--db", str(tmp_path / "none.db")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "no legacy database" in run.stderr
    assert "examples.seed" in run.stderr


def test_apps_load_in_process_from_their_import_strings(
    seeded: tuple[Path, Path], serve: Callable[..., LiveServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXAMPLES_LEGACY_DB", str(seeded[0]))
    monkeypatch.setenv("EXAMPLES_NEW_DB", str(seeded[1]))
    legacy = importlib.import_module("examples.legacy.app").application
    new = importlib.import_module("examples.new.app").app
    urls = [serve(WSGIMiddleware(legacy)).url, serve(new).url]
    slugs = [httpx.get(f"{u}/orgs?limit=3", timeout=30).json()["items"] for u in urls]
    assert slugs[0] == slugs[1]
    assert os.environ["EXAMPLES_NEW_DB"] == str(seeded[1])


def test_the_example_config_is_valid() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "strangler", "check", "-c", "examples/strangler.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "9 routes: 9 legacy" in run.stdout


def test_new_init_creates_the_tables_only(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    run = subprocess.run(
        [sys.executable, "-m", "examples.new", "--init", "--db", str(db)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"organisations", "forms", "orders", "payments"}
