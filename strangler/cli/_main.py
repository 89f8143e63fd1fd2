"""The ``strangler`` app: the core commands, the plugins' commands, and one exit path."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

import click
import typer
from rich.console import Console
from rich.markup import escape
from typer.exceptions import TyperException

from strangler._errors import ConfigError, FlipRefused, InvalidFlip, RouteError, StranglerError
from strangler.cli import (
    _config_cmds,
    _db_cmds,
    _discover_cmds,
    _report_cmds,
    _rollout_cmds,
    _route_cmds,
    _serve_cmds,
)

__all__ = ["EXIT_REFUSED", "EXIT_USAGE", "build_app", "get_app", "main"]

#: Optional libraries -> (what needs them, the extra that installs them).
EXTRAS: dict[str, tuple[str, str]] = {
    "locust": ("load testing", "load"),
    "gevent": ("load testing", "load"),
    "scipy": ("the load gate", "load"),
    "numpy": ("the load gate", "load"),
    "pytest": ("parity tests", "parity"),
    "psycopg": ("a PostgreSQL store or database", "postgres"),
    "pymysql": ("a MariaDB/MySQL database", "mariadb"),
    "flask": ("the example apps", "examples"),
}

EXIT_REFUSED = 1
EXIT_USAGE = 2


def build_app() -> typer.Typer:
    """The CLI with the core commands and every installed plugin's commands."""
    app = typer.Typer(
        name="strangler",
        help="Finish a gradual rewrite: route, shadow, compare and flip endpoints one at a time.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    commands = (_config_cmds, _db_cmds, _route_cmds, _serve_cmds, _report_cmds, _rollout_cmds)
    for module in (*commands, _discover_cmds):
        module.register(app)
    for ep in entry_points(group="strangler.commands"):
        ep.load()(app)
    return app


_built: list[typer.Typer] = []


def get_app() -> typer.Typer:
    """The CLI, built on first use (the plugins' commands load then, not on import)."""
    if not _built:
        _built.append(build_app())
    return _built[0]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns (and as a script, exits with) the exit code."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        result = get_app()(args=list(argv) if argv is not None else None, standalone_mode=False)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.exceptions.Abort:
        err.print("aborted")
        return EXIT_USAGE
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except TyperException as exc:  # typer's vendored click raises its own usage errors
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err.print("[red]error:[/] " + escape(str(exc)), markup=True, highlight=False)
        return int(getattr(exc, "exit_code", EXIT_USAGE))
    except ModuleNotFoundError as exc:
        extra = EXTRAS.get((exc.name or "").split(".")[0])
        if extra is None:
            raise
        what, name = extra
        err.print(
            f"[red]error:[/] {what} needs {exc.name!r}, which is not installed: "
            + escape(f"pip install 'strangler[{name}]'"),
            markup=True,
            highlight=False,
        )
        return EXIT_USAGE
    except (ConfigError, RouteError, InvalidFlip) as exc:
        err.print("[red]error:[/] " + escape(str(exc)), markup=True, highlight=False)
        return EXIT_USAGE
    except FlipRefused as exc:
        err.print("[red]refused:[/] " + escape(str(exc)), markup=True, highlight=False)
        return EXIT_REFUSED
    except StranglerError as exc:
        err.print("[red]error:[/] " + escape(str(exc)), markup=True, highlight=False)
        return EXIT_REFUSED
    return int(result) if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
