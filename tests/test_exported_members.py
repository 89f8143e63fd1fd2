"""Each package's public surface is its ``__all__`` (ruff RUF022 keeps it sorted): every
name listed exists, every public name is listed, and the plugins built on ``strangler`` use
only what it exports publicly."""

from __future__ import annotations
import __future__

import ast
import importlib
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PACKAGES = [
    "strangler",
    "strangler.admin",
    "strangler.auth",
    "strangler.backends",
    "strangler.cli",
    "strangler.config",
    "strangler.control",
    "strangler.metrics",
    "strangler.proxy",
    "strangler.report",
    "strangler.rollout",
    "strangler.routing",
    "strangler.store",
    "strangler.workers",
    "shadow",
    "migrations",
    "parity_tests",
    "load",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    missing = [n for n in exported if not hasattr(module, n)]
    assert missing == [], f"{name}.__all__ names missing attributes: {missing}"


@pytest.mark.parametrize(
    "name", [p for p in PACKAGES if p not in ("strangler.metrics", "strangler.routing")]
)
def test_every_public_name_of_a_package_is_in_all(name: str) -> None:
    """As httpx does: a name without a leading underscore is public, so it is listed."""
    module = importlib.import_module(name)
    public = {
        n
        for n, value in vars(module).items()
        if not n.startswith("_")
        and not isinstance(value, types.ModuleType)  # submodules bound by the import system
        and not isinstance(value, __future__._Feature)  # `from __future__ import annotations`
        and n != "TYPE_CHECKING"
    }
    assert sorted(public - set(module.__all__)) == []


@pytest.mark.parametrize("plugin", ["migrations", "parity_tests", "load"])
def test_plugins_import_no_private_strangler_module(plugin: str) -> None:
    private = []
    for path in sorted((ROOT / plugin).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            for module in names:
                parts = module.split(".")
                if parts[0] == "strangler" and any(p.startswith("_") for p in parts[1:]):
                    private.append(f"{path.relative_to(ROOT)}:{node.lineno} {module}")
    assert private == []


@pytest.mark.parametrize("plugin", ["migrations", "parity_tests", "load"])
def test_plugins_reach_the_store_through_its_package_only(plugin: str) -> None:
    """What the store exports (the Store, its repositories, plain values) is the contract:
    a plugin never imports a store module, so never an ORM row class."""
    store = importlib.import_module("strangler.store")
    found = []
    for path in sorted((ROOT / plugin).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found += [a.name for a in node.names if a.name.startswith("strangler.store.")]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "strangler.store"
            ):
                if node.module != "strangler.store":
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.module}")
                else:
                    found += [
                        f"{path.relative_to(ROOT)}:{node.lineno} {a.name}"
                        for a in node.names
                        if a.name not in store.__all__
                        or isinstance(getattr(store, a.name), types.ModuleType)
                    ]
    assert found == []
