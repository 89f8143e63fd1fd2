"""Build a backend from its config: a URL gives an HTTP backend, ``module:attr`` an app."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

from strangler._errors import ConfigError
from strangler.backends._base import Backend
from strangler.backends._http import HTTPBackend
from strangler.backends._inprocess import ASGIBackend, is_asgi
from strangler.config import BackendConfig, Config

__all__ = ["build_backend", "build_backends", "load_app"]


def load_app(
    target: str,
    *,
    key: str = "",
    file: str | None = None,
    what: str = "an ASGI or WSGI application (a callable)",
) -> Any:
    """Import ``"package.module:attribute"`` (attributes may be dotted) once.

    >>> load_app("json:dumps")([1])
    '[1]'
    """
    module_name, _, attr = target.partition(":")
    try:
        obj: Any = _import(module_name, file)
    except ImportError as exc:
        raise ConfigError(
            key, target, f"an importable module ({module_name!r}: {exc})", file=file
        ) from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ConfigError(
                key, target, f"an attribute {attr!r} in module {module_name!r}", file=file
            ) from None
    if not callable(obj):
        raise ConfigError(key, target, what, file=file)
    return obj


def _import(module_name: str, file: str | None) -> Any:
    """Import a module; when it is not found, look next to the config file and in the
    working directory too (as uvicorn does with its app dir), where a team's app lives."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        top = module_name.split(".")[0]
        if exc.name != top:
            raise
        roots = [str(Path(file).resolve().parent)] if file else []
        roots.append(os.getcwd())
        added = [r for r in roots if r not in sys.path]
        if not added:
            raise
        sys.path[:0] = added
        return importlib.import_module(module_name)


def build_backend(name: str, config: BackendConfig, *, file: str | None = None) -> Backend:
    """The backend for ``config``: HTTP for a URL, in-process for ``module:attr``.

    ``interface: auto`` treats a coroutine function or an object with ``async __call__``
    as ASGI and anything else as WSGI; ``asgi``/``wsgi`` force it.
    """
    if config.is_remote:
        return HTTPBackend(name, config)
    app = load_app(config.target, key=name, file=file)
    interface = config.interface
    if interface == "auto":
        interface = "asgi" if is_asgi(app) else "wsgi"
    if interface == "asgi":
        return ASGIBackend(name, app, description=config.target)
    from a2wsgi import WSGIMiddleware

    wrapped: Any = WSGIMiddleware(app, workers=min(config.max_connections, 32))
    return ASGIBackend(name, wrapped, description=config.target, wsgi=wrapped)


def build_backends(config: Config) -> dict[str, Backend]:
    """``legacy``, ``new`` and, when configured, ``new_sandbox``."""
    out = {
        "legacy": build_backend("legacy", config.legacy, file=config.source),
        "new": build_backend("new", config.new, file=config.source),
    }
    if config.new_sandbox is not None:
        out["new_sandbox"] = build_backend("new_sandbox", config.new_sandbox, file=config.source)
    return out
