"""What every config model shares: frozen values, no unknown keys, paths from the file."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationInfo

__all__ = ["Frozen", "config_path"]


class Frozen(BaseModel):
    """A config model: immutable once loaded, and a key it does not know is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def config_path(value: str, info: ValidationInfo) -> Path:
    """``value`` as an absolute path: a relative one is taken from the config file's folder
    (the ``base`` of the validation context), else from the working directory."""
    path = Path(value).expanduser()
    if not path.is_absolute():
        base = (info.context or {}).get("base")
        path = Path(base) / path if base is not None else Path.cwd() / path
    return path.resolve()
