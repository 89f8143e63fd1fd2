"""The store's Alembic scripts and its SQLAlchemy models agree, on every supported engine."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from strangler.cli import main
from strangler.store import Store, current_revision, downgrade, head_revision, upgrade
from strangler.store.models import Base


def _diff(url: str) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(ctx, Base.metadata))
    finally:
        engine.dispose()


def _roundtrip(url: str) -> None:
    upgrade(url)
    assert current_revision(url) == head_revision()
    assert _diff(url) == [], "models and migrations disagree"
    downgrade(url, "base")
    engine = create_engine(url)
    try:
        tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()
    assert tables == set()
    upgrade(url)
    assert _diff(url) == []


def test_sqlite_models_match_migrations(sqlite_url: str) -> None:
    _roundtrip(sqlite_url)


@pytest.mark.postgres
def test_postgres_models_match_migrations(postgres_url: str) -> None:
    _roundtrip(postgres_url)


@pytest.mark.mariadb
def test_mariadb_models_match_migrations(mariadb_url: str) -> None:
    _roundtrip(mariadb_url)


def test_db_commands_upgrade_and_downgrade(
    sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade", "--url", sqlite_url]) == 0
    assert f"store at revision {head_revision()}" in capsys.readouterr().out
    store = Store(sqlite_url)
    assert store.version() == 0
    store.close()
    assert main(["db", "downgrade", "base", "--url", sqlite_url]) == 0
    assert current_revision(sqlite_url) is None
