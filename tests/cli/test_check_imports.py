"""``strangler check`` imports what ``serve`` and ``backfill`` would import: an in-process
backend or a data mapping that does not import is refused by check, not first by serve."""

from __future__ import annotations

from pathlib import Path

import pytest

from strangler.cli import main

HEAD = "legacy: http://127.0.0.1:9\nnew: http://127.0.0.1:9\nstore: sqlite:///s.db\n"


@pytest.mark.parametrize(
    ("body", "key", "value"),
    [
        ("legacy: no_such_module_q:app\nnew: http://127.0.0.1:9\n", "legacy", "no_such_module_q"),
        ("legacy: json:no_such_attr\nnew: http://127.0.0.1:9\n", "legacy", "json:no_such_attr"),
        ("legacy: http://127.0.0.1:9\nnew: json.decoder:nope\n", "new", "json.decoder:nope"),
        (HEAD + "mappings: {orgs: 'no_such_module_q:M'}\n", "mappings.orgs", "no_such_module_q"),
        (HEAD + "mappings: {orgs: 'json:no_mapping'}\n", "mappings.orgs", "json:no_mapping"),
        (HEAD + "mappings: {orgs: 'just-a-name'}\n", "mappings", "just-a-name"),
    ],
)
def test_check_refuses_what_does_not_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, key: str, value: str
) -> None:
    path = tmp_path / "strangler.yaml"
    path.write_text(body, encoding="utf-8")
    assert main(["check", "-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:")
    assert "Traceback" not in err
    assert f"{key}:" in err
    assert value in err


def test_a_mapping_that_imports_passes_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "strangler.yaml"
    path.write_text(HEAD + "mappings: {orgs: 'tests.migrations.shop:ORDERS_MAPPING'}\n")
    assert main(["check", "-c", str(path)]) == 0, capsys.readouterr().err


def test_a_value_with_brackets_is_printed_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The terminal's markup never eats a user's value (``[postgres]`` stays visible)."""
    path = tmp_path / "strangler.yaml"
    path.write_text("legacy: '[postgres] x'\nnew: http://127.0.0.1:9\n", encoding="utf-8")
    assert main(["check", "-c", str(path)]) == 2
    assert "[postgres] x" in capsys.readouterr().err
