"""The kit's commands: a killed backfill resumes without loss; verify, jobs, throttle output."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import delete

from migrations import BackfillOptions, JobLog, dry_run_backfill, open_mapping, run_backfill, verify
from strangler.cli import main
from tests.migrations import shop
from tests.migrations.conftest import REPO, Shop, cli_env

STRANGLER = str(Path(sys.executable).with_name("strangler"))


def _strangler(*args: str) -> subprocess.Popen[bytes]:
    """The real command in its own process (so it can be killed with SIGKILL)."""
    return subprocess.Popen(
        [STRANGLER, *args],
        cwd=REPO,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _stop(proc: subprocess.Popen[bytes]) -> str:
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=10)
    return err.decode()


def _copied_rows(s: Shop) -> int:
    job = JobLog(s.store).active("orders")
    return job.copied if job else 0


@pytest.mark.slow
def test_sigkill_at_random_points_loses_and_duplicates_nothing(sqlite_shop: Shop) -> None:
    sqlite_shop.add_orders(range(1, 4001))
    cfg = str(sqlite_shop.config_path)
    rng = random.Random(7)
    kills = 0
    batch = 40
    while kills < 10:
        # Throttled so each run copies a little; batch sizes change between runs.
        proc = _strangler("backfill", "-c", cfg, "orders", "--batch", str(batch), "--rate", "400")
        deadline = time.monotonic() + 30
        before = _copied_rows(sqlite_shop)
        wait = rng.uniform(0.05, 0.6)
        # Kill only once this run has made progress (or at a random moment while starting).
        while time.monotonic() < deadline and proc.poll() is None:
            if kills % 3 == 0 or _copied_rows(sqlite_shop) > before:
                time.sleep(wait)
                break
            time.sleep(0.02)
        alive = proc.poll() is None
        err = _stop(proc)
        assert alive, err
        kills += 1
        batch = rng.choice([7, 40, 113, 500])
    assert 0 < _copied_rows(sqlite_shop) < 4000
    final = _strangler("backfill", "-c", cfg, "orders", "--rate", "0")
    _, final_err = final.communicate(timeout=60)
    assert final.returncode == 0, final_err.decode()
    (job, *_) = JobLog(sqlite_shop.store).jobs()
    assert job.state == "done"
    assert len(JobLog(sqlite_shop.store).jobs()) == 1  # one job, resumed ten times
    assert sqlite_shop.count("orders") == 3920
    assert main(["verify", "-c", cfg, "orders", "--json"]) == 0


def test_backfill_verify_jobs_commands(
    sqlite_shop: Shop, capsys: pytest.CaptureFixture[str]
) -> None:
    sqlite_shop.add_orders(range(1, 301))
    cfg = str(sqlite_shop.config_path)
    assert main(["backfill", "-c", cfg, "orders", "--dry-run", "--batch", "50"]) == 0
    out = capsys.readouterr().out
    assert "would write 147 rows from 150 legacy rows (3 skipped by the transform)" in out
    assert sqlite_shop.count("orders") == 0
    assert main(["backfill", "-c", cfg, "orders"]) == 0
    out = capsys.readouterr().out
    assert "job 1 done: 300 legacy rows copied, 294 written, 6 skipped" in out
    assert main(["jobs", "-c", cfg, "--json"]) == 0
    (job,) = json.loads(capsys.readouterr().out)
    assert (job["mapping"], job["state"], job["copied"], job["end_key"]) == (
        "orders",
        "done",
        300,
        [300],
    )
    with sqlite_shop.new.begin() as conn:
        conn.execute(delete(shop.orders).where(shop.orders.c.id == 42))
    assert main(["verify", "-c", cfg, "orders"]) == 1
    out = capsys.readouterr().out
    assert "missing   [42]" in out
    assert "1 missing, 0 extra, 0 different" in out
    assert main(["verify", "-c", cfg, "orders", "--repair", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["repaired"] is True
    assert report["missing"] == [[42]]
    assert main(["verify", "-c", cfg, "orders", "--json"]) == 0


def test_user_errors_are_one_line(sqlite_shop: Shop, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = str(sqlite_shop.config_path)
    assert main(["backfill", "-c", cfg, "invoices"]) == 1
    err = capsys.readouterr().err
    assert (
        "mapping 'invoices': not in the config's mappings (known: lines, lines_sql, orders)" in err
    )
    assert "Traceback" not in err
    assert main(["throttle", "-c", cfg, "orders", "100"]) == 1
    assert "no running backfill of 'orders'" in capsys.readouterr().err


def test_the_commands_run_from_python_without_the_cli(sqlite_shop: Shop) -> None:
    """What `strangler backfill` runs is a typed function a script can call with a config."""
    sqlite_shop.add_orders(range(1, 101))
    mapping, preview = dry_run_backfill(sqlite_shop.config, "orders", batch=20)
    assert (mapping.name, preview.legacy_rows, sqlite_shop.count("orders")) == ("orders", 60, 0)
    seen: list[tuple[int, bool]] = []
    job = run_backfill(
        sqlite_shop.config,
        "orders",
        BackfillOptions(batch=30, workers=2),
        on_start=lambda job, resumed: seen.append((job.total, resumed)),
    )
    assert (job.state, job.copied, job.skipped, job.workers) == ("done", 100, 2, 2)
    assert seen == [(100, False)]
    with open_mapping(sqlite_shop.config, "orders") as (mapping, dbs, store):
        assert verify(mapping, dbs, store).clean
