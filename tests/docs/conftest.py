"""Databases for the recipes, made once per module (the recipes run side by side)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import ScratchDatabases


@pytest.fixture(scope="module")
def new_postgres_schema() -> Iterator[Callable[[], str | None]]:
    """``make()`` -> the URL of a fresh schema on STRANGLER_TEST_POSTGRES_URL, or None."""
    base = os.environ.get("STRANGLER_TEST_POSTGRES_URL")
    scratch = ScratchDatabases()
    yield lambda: scratch.postgres(base) if base else None
    scratch.drop_all()


@pytest.fixture(scope="module")
def new_mariadb_database() -> Iterator[Callable[[], str | None]]:
    """``make()`` -> the URL of a fresh database on STRANGLER_TEST_MARIADB_URL, or None."""
    base = os.environ.get("STRANGLER_TEST_MARIADB_URL")
    scratch = ScratchDatabases()
    yield lambda: scratch.mariadb(base) if base else None
    scratch.drop_all()
