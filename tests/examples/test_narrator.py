"""The demo's final table tells the truth: a step with a caveat is not just "done"."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from examples._console import Narrator


def test_a_step_with_a_caveat_says_so_in_the_final_table(tmp_path: Path) -> None:
    out = io.StringIO()
    narrator = Narrator(Console(file=out, width=200, color_system=None))
    with narrator.step("Flip what is ready"):
        narrator.note("GET /orgs is not ready: forcing it, and the audit log records it")
    with narrator.step("The dashboard"):
        narrator.ok("dashboard up")
    narrator.summary(tmp_path)
    table = out.getvalue().split("demo finished", 1)[1]
    flip, dashboard = (
        next(line for line in table.splitlines() if title in line)
        for title in ("Flip what is ready", "The dashboard")
    )
    assert "done, with a caveat" in flip
    assert "forcing it" in flip
    assert "done" in dashboard
    assert "caveat" not in dashboard
