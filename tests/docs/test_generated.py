"""The generated reference pages are current, and their example config is valid."""

from __future__ import annotations

from pathlib import Path

import yaml

from strangler.config import Config, parse_config
from tests.docs.codeblocks import ROOT, blocks
from tools.docgen import EXAMPLE_CONFIG, PAGES, main


def test_generated_pages_are_current() -> None:
    """Fails when the config model or the CLI changed without `python -m tools.docgen`."""
    assert main(["--check"]) == 0, "run `python -m tools.docgen` and commit the pages"


def test_check_reports_a_stale_page(tmp_path: Path) -> None:
    for name, build in PAGES.items():
        (tmp_path / name).write_text(build(), encoding="utf-8")
    assert main(["--check", "--docs", str(tmp_path)]) == 0
    page = tmp_path / "cli-reference.md"
    page.write_text(page.read_text(encoding="utf-8").replace("--percent", "--pct"))
    assert main(["--check", "--docs", str(tmp_path)]) == 1
    assert main(["--docs", str(tmp_path)]) == 0  # rewrites it
    assert "--percent" in page.read_text(encoding="utf-8")


def test_the_example_config_is_valid_and_complete(tmp_path: Path) -> None:
    page = ROOT / "docs" / "configuration.md"
    first_yaml = next(b for b in blocks(page) if b.lang == "yaml")
    assert first_yaml.text == EXAMPLE_CONFIG
    data = yaml.safe_load(first_yaml.text)
    cfg = parse_config(data, source=str(tmp_path / "strangler.yaml"))
    shown = set(data)
    every = {name for name, field in Config.model_fields.items() if not field.exclude}
    assert shown == every, f"keys missing from the example: {sorted(every - shown)}"
    assert [r.mode for r in cfg.routes] == ["shadow", "canary", "legacy", "new"]
    assert cfg.readiness.evidence_max_age == 7 * 86400
    assert cfg.store == f"sqlite:///{tmp_path / 'strangler.db'}"


def test_every_config_key_has_a_type_a_default_and_a_description() -> None:
    rows = [
        line
        for line in (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("| `")
    ]
    assert len(rows) > 90
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split(" | ")]
        assert len(cells) == 4, row
        assert all(cells), f"an empty cell: {row}"
