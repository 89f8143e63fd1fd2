"""The standalone locustfile runs under plain ``locust`` and sends the scenario's requests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from strangler.cli import main
from tests.conftest import LiveServer
from tests.load.apps import Backend


def test_written_locustfile_runs_with_locust_itself(
    serve: Callable[..., LiveServer],
    write_config: Callable[..., Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = Backend()
    url = serve(app).url
    routes = [
        {"route": "GET /orgs/{slug}", "examples": {"slug": ["acme"]}, "weight": 3},
        {"route": "GET,DELETE /items/{id}", "examples": {"id": ["1"]}},
    ]
    config = write_config(url, url, routes)
    locustfile = tmp_path / "loadtest.py"

    assert main(["load", "-c", str(config), "--write-locustfile", str(locustfile)]) == 0
    assert f"wrote {locustfile}" in capsys.readouterr().out
    source = locustfile.read_text()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert not [i for i in imports if i.split()[1].split(".")[0] in ("load", "strangler", "shadow")]

    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(locustfile),
            "--headless",
            "-u",
            "2",
            "-r",
            "10",
            "-t",
            "5s",  # a loaded machine can take most of a second before the first request
            "--host",
            url,
            "--only-summary",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    said = run.stdout[-2000:] + run.stderr[-2000:]
    assert app.hits["/orgs/acme"] > 0, said
    assert app.hits["/items/1"] > 0, said
    assert app.methods["DELETE"] == 0  # writes stay out of a generated locustfile too
    assert set(app.hits) == {"/orgs/acme", "/items/1"}
