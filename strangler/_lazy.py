"""Package re-exports resolved on first use (PEP 562), so importing a package stays cheap.

Every ``strangler`` command imports the packages its options and plugins live in; a
package whose ``__init__`` pulled in SQLAlchemy, Alembic, pydantic models, numpy or jinja2
up front made each command, even ``--help``, pay a second or more before doing anything.
A package imports its public names under ``TYPE_CHECKING`` for the type checker, and
names the module each of them lives in::

    lazy_package(__name__, {"strangler.store.repository": ("Flip", "Store"), ...})
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["lazy_package"]

_WHERE = "_lazy_where"


class _LazyPackage(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        module = vars(self)[_WHERE].get(name)
        if module is None:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        vars(self)[name] = value  # later lookups are plain attributes
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        # The import system binds each submodule on its package once it is loaded. Where a
        # public name is also a submodule's name (`migrations.verify`, the function, lives in
        # `migrations/verify.py`), the public name wins, as it did with eager imports.
        if (
            isinstance(value, types.ModuleType)
            and vars(self)[_WHERE].get(name) == value.__name__
            and hasattr(value, name)
        ):
            value = getattr(value, name)
        super().__setattr__(name, value)

    def __dir__(self) -> list[str]:
        return sorted({*vars(self), *vars(self)[_WHERE]})


def lazy_package(package: str, exports: Mapping[str, Iterable[str]]) -> None:
    """Make ``exports`` (module -> its public names) attributes of ``package`` on first use."""
    module = sys.modules[package]
    vars(module)[_WHERE] = {name: source for source, names in exports.items() for name in names}
    module.__class__ = _LazyPackage
