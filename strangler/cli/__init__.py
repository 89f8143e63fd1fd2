"""The ``strangler`` command: a thin shell over typed functions.

Core commands live in this package; ``migrations``, ``parity_tests`` and ``load`` add their
own through the ``strangler.commands`` entry-point group (each entry point is a function
taking the :class:`typer.Typer` app) and declare their options with the ones exported here
(:data:`ConfigOption`, :data:`JsonOption`, :data:`DEFAULT_CONFIG`), so every command reads
its config and prints JSON the same way. Every user error ends as one clear line and an
exit code, never a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strangler.cli._main import EXIT_REFUSED, EXIT_USAGE, build_app, get_app, main
from strangler.cli._options import DEFAULT_CONFIG, ConfigOption, JsonOption, output_console

if TYPE_CHECKING:
    from typer import Typer

__all__ = [
    "DEFAULT_CONFIG",
    "EXIT_REFUSED",
    "EXIT_USAGE",
    "ConfigOption",
    "JsonOption",
    "app",
    "build_app",
    "get_app",
    "main",
    "output_console",
]


def __getattr__(name: str) -> Typer:
    # ``strangler.cli.app``: built on first use, once this package is fully imported (the
    # plugins' commands it loads import their options from here).
    if name == "app":
        return get_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
