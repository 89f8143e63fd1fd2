"""The modes of a route, in lifecycle order, importable without the config models.

``strangler flip --help`` lists them; importing :mod:`strangler.config` for that would load
pydantic and build every config model before the help is shown. :mod:`strangler.config`
re-exports this tuple, and a test keeps its ``Mode`` literal equal to it.
"""

from __future__ import annotations

__all__ = ["MODES"]

MODES: tuple[str, ...] = ("legacy", "shadow", "canary", "new", "retired")
