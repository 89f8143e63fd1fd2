"""locust's own master/worker mode: one master, two local worker processes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from strangler.cli import main
from tests.conftest import free_port
from tests.load.apps import Backend

CLI = "import sys; from strangler.cli import main; sys.exit(main())"


@pytest.mark.slow
def test_master_with_two_workers_runs_legacy_then_new(
    backends: Callable[[Backend, Backend], tuple[str, str]],
    write_config: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    legacy_app, new_app = Backend(delays={"/": 0.01}), Backend()
    legacy, new = backends(legacy_app, new_app)
    config = write_config(legacy, new, [{"route": "GET /health"}], users=4)
    port = str(free_port())
    worker = [sys.executable, "-c", CLI, "load", "-c", str(config), "--worker"]
    workers = [
        subprocess.Popen(
            [*worker, "--master-port", port],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        code = main(
            [
                "load",
                "-c",
                str(config),
                "--master",
                "--expect-workers",
                "2",
                "--master-port",
                port,
                "--json",
                "--no-evidence",
            ]
        )
        outputs = [w.communicate(timeout=60) for w in workers]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()

    assert code == 0
    report = json.loads(capsys.readouterr().out)
    for result in report["targets"]:
        assert len(result["workers"]) == 2, result["workers"]
        assert all(n > 0 for n in result["workers"].values()), result["workers"]
        assert sum(result["workers"].values()) == result["requests"]
    assert report["gate"]["passed"] is True
    assert legacy_app.hits["/health"] > 0
    assert new_app.hits["/health"] > 0
    for worker_out, _err in outputs:
        assert "worker done:" in worker_out
        assert int(worker_out.split("worker done:")[1].split()[0]) > 0


def test_a_master_without_its_workers_stops_with_a_clear_error(
    write_config: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config("http://127.0.0.1:9", "http://127.0.0.1:9", [{"route": "GET /a"}])
    argv = ["load", "-c", str(config), "--master", "--master-port", str(free_port())]
    assert main([*argv, "--worker-wait", "1", "--target", "new"]) == 1
    assert "only 0 of 1 workers connected within 1 s" in capsys.readouterr().err
