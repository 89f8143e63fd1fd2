"""What ``strangler check`` verifies beyond the file itself: every module the config names
imports (in-process backends, data mappings, auth bridge hooks) and every environment
variable it names is set, as ``serve`` and ``backfill`` would need."""

from __future__ import annotations

from strangler._errors import ConfigError
from strangler.auth import check_bridges
from strangler.backends import load_app
from strangler.config import Config

__all__ = ["preflight"]


def preflight(cfg: Config) -> None:
    """Import what the config names; a :class:`ConfigError` names the key that fails."""
    backends = {"legacy": cfg.legacy, "new": cfg.new, "new_sandbox": cfg.new_sandbox}
    for key, backend in backends.items():
        if backend is not None and not backend.is_remote:
            _load(backend.target, key, cfg, "an ASGI or WSGI application (a callable)")
    for name, spec in cfg.mappings.items():
        _load(spec, f"mappings.{name}", cfg, "a data mapping as 'module:attribute'")
    check_bridges(cfg)


def _load(target: str, key: str, cfg: Config, what: str) -> None:
    if ":" not in target:
        raise ConfigError(key, target, what, file=cfg.source)
    try:
        load_app(target, key=key, file=cfg.source, what=what)
    except ConfigError as exc:
        # load_app insists on a callable; a mapping is an object, so only that is forgiven
        if "callable" in what or exc.expected != what:
            raise
    except Exception as exc:  # a user module that raises while it is imported
        raise ConfigError(
            key,
            target,
            f"a module that imports ({type(exc).__name__}: {str(exc)[:200]})",
            file=cfg.source,
        ) from None
