"""Tables printed to a pipe or a CI log keep every route name whole (no terminal to
measure: rich would wrap at 80 columns and cut names into pieces)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

LONG = "GET /organisations/{organisation_slug}/fundraising-campaigns/{campaign_id}/donations"


def test_routes_and_status_on_a_pipe_keep_route_names_whole(tmp_path: Path) -> None:
    config = tmp_path / "strangler.yaml"
    config.write_text(
        "legacy: http://127.0.0.1:9\nnew: http://127.0.0.1:9\n"
        f"store: sqlite:///{tmp_path / 's.db'}\n"
        f'routes:\n  - route: "{LONG}"\n    mode: shadow\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    for command in ("routes", "ready", "status"):
        out = subprocess.run(
            [sys.executable, "-m", "strangler", command, "-c", str(config)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        assert LONG in out.stdout, (command, out.stdout)
