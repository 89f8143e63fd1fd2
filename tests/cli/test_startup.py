"""Every ``strangler`` command starts fast: it imports only what it uses.

Checked by what a fresh process has imported, never by timing: ``--help`` loads no
database, comparison, template, load-test or server library; a command that reads the
store loads SQLAlchemy but not Alembic, deepdiff or the proxy; the pytest plugin that every
pytest run of a project with strangler installed loads stays as light.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import get_args

import pytest

from strangler._modes import MODES
from strangler.cli import main

# Each costs from tens of milliseconds (jinja2, prometheus_client) to most of a second
# (SQLAlchemy, Alembic, deepdiff with numpy, scipy, plotly) at start-up.
HEAVY = (
    "alembic",
    "deepdiff",
    "httpx",
    "jinja2",
    "locust",
    "numpy",
    "plotly",
    "prometheus_client",
    "scipy",
    "sqlalchemy",
    "starlette",
    "uvicorn",
)

REPORT = """
import json, sys
print(json.dumps(sorted({name.partition(".")[0] for name in sys.modules})))
"""


def _imported_after(code: str, cwd: Path) -> set[str]:
    """The top-level packages a fresh interpreter has imported after running ``code``."""
    script = textwrap.dedent(code) + REPORT
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_importing_the_cli_loads_no_heavy_library(tmp_path: Path) -> None:
    imported = _imported_after("import strangler.cli", tmp_path)
    assert "strangler" in imported
    # nor the config models (pydantic, YAML): `strangler --help` needs neither
    assert imported.isdisjoint({*HEAVY, "pydantic", "yaml"}), sorted(imported & {*HEAVY})


def test_help_of_every_command_loads_no_heavy_library(tmp_path: Path) -> None:
    code = """
        import contextlib, io, sys
        import typer.main
        from strangler.cli import app, main

        def paths(group, prefix):
            for name, command in group.commands.items():
                yield [*prefix, name]
                if hasattr(command, "commands"):
                    yield from paths(command, [*prefix, name])

        everything = [[], *paths(typer.main.get_command(app), [])]
        with contextlib.redirect_stdout(io.StringIO()) as shown:
            failed = [p for p in everything if main([*p, "--help"]) != 0]
        assert not failed, failed
        assert shown.getvalue().count("Usage:") == len(everything) > 20, shown.getvalue()
    """
    imported = _imported_after(code, tmp_path)
    assert {"migrations", "load", "parity_tests"} <= imported  # the plugins' commands too
    assert imported.isdisjoint(HEAVY), sorted(imported & {*HEAVY})


def test_store_commands_load_sqlalchemy_but_not_alembic_or_the_proxy(config_file: Path) -> None:
    assert main(["db", "upgrade", "-c", str(config_file)]) == 0  # the schema exists already
    code = f"""
        from strangler.cli import main
        config = {str(config_file)!r}
        flip = ["flip", "-c", config, "POST /payments", "--to", "shadow", "-r", "mirror it"]
        assert main(flip) == 0
        assert main(["routes", "-c", config, "--json"]) == 0
        assert main(["history", "-c", config]) == 0
    """
    imported = _imported_after(code, config_file.parent)
    assert main(["history", "-c", str(config_file), "--json"]) == 0  # the flip was recorded
    assert "sqlalchemy" in imported
    assert imported.isdisjoint(set(HEAVY) - {"sqlalchemy", "prometheus_client"}), sorted(
        imported & {*HEAVY}
    )


def test_the_pytest_plugin_loads_nothing_heavy(tmp_path: Path) -> None:
    imported = _imported_after("import pytest\nimport parity_tests.plugin", tmp_path)
    assert "parity_tests" in imported
    assert imported.isdisjoint({*HEAVY, "pydantic", "shadow"}), sorted(imported & {*HEAVY})


def test_the_cli_lists_the_config_modes() -> None:
    """``flip --to`` lists the modes without loading the config models: the same tuple."""
    from strangler.config import MODES as CONFIG_MODES
    from strangler.config import Mode

    assert MODES == CONFIG_MODES == get_args(Mode)


@pytest.mark.parametrize(
    ("package", "name", "where"),
    [
        ("strangler", "load_config", "strangler.config"),
        ("strangler.report", "render", "strangler.report.render"),
        ("migrations", "verify", "migrations.verify"),
        ("migrations", "backfill", "migrations.backfill"),
    ],
)
def test_lazy_exports_are_the_functions_not_their_modules(
    package: str, name: str, where: str
) -> None:
    """A public name that is also a submodule's name stays the function once it is imported."""
    import importlib

    module = importlib.import_module(where)  # binds the submodule on its package first
    value = getattr(importlib.import_module(package), name)
    assert value is getattr(module, name)
    assert not isinstance(value, type(module))


@pytest.mark.parametrize(
    ("module", "argv", "extra"),
    [
        ("psycopg", ["routes", "-c", "pg.yaml"], "postgres"),
    ],
)
def test_a_missing_extra_is_named_not_a_traceback(
    tmp_path: Path, module: str, argv: list[str], extra: str
) -> None:
    (tmp_path / "ok.yaml").write_text(
        'legacy: http://127.0.0.1:9\nnew: http://127.0.0.1:10\nroutes:\n  - route: "GET /a"\n'
    )
    (tmp_path / "pg.yaml").write_text(
        "legacy: http://127.0.0.1:9\nnew: http://127.0.0.1:10\n"
        "store: postgresql+psycopg://u@127.0.0.1:1/x\n"
    )
    code = (
        f"import sys; sys.modules[{module!r}] = None\n"  # as if the extra were not installed
        f"from strangler.cli import main; sys.exit(main({argv!r}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2, out.stderr
    assert f"pip install 'strangler[{extra}]'" in out.stderr
    assert "Traceback" not in out.stderr
