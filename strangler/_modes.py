"""The modes of a route, in lifecycle order, importable without the config models.

``strangler flip --help`` lists them; importing :mod:`strangler.config` for that would load
pydantic and build every config model before the help is shown. :mod:`strangler.config`
re-exports this tuple, and a test keeps its ``Mode`` literal equal to it.
"""

from __future__ import annotations

__all__ = ["CATCH_ALL", "MODES"]

MODES: tuple[str, ...] = ("legacy", "shadow", "canary", "new", "retired")

CATCH_ALL = "* /{path:path}"
"""The route key of requests no declared route matches (served by legacy): the name the
metrics, the errors, load scenarios and ``strangler routes`` give it
(:mod:`strangler.routing` re-exports it)."""
