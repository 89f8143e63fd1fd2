"""Each package's public surface: every name in ``__all__`` exists (ruff RUF022 keeps it sorted)."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = [
    "strangler",
    "strangler.admin",
    "strangler.auth",
    "strangler.backends",
    "strangler.config",
    "strangler.control",
    "strangler.metrics",
    "strangler.proxy",
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
