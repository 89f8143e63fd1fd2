"""The store's Alembic scripts and its SQLAlchemy models agree, on every supported engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from strangler import StoreError
from strangler.cli import main
from strangler.store import Store, current_revision, downgrade, head_revision, schema, upgrade
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


def _alembic_heads() -> list[str]:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(schema.script_location()))
    return list(ScriptDirectory.from_config(cfg).get_heads())


def test_head_revision_is_alembics_head() -> None:
    """Read without Alembic (start-up of every store command), the same answer as Alembic's."""
    assert [head_revision()] == _alembic_heads()


@pytest.mark.parametrize(
    ("scripts", "head"),
    [
        ({"a": None, "b": "a", "c": "b"}, "c"),
        ({"a": None, "b": "a", "c": "a", "d": ("b", "c")}, "d"),  # a merge
        ({"a": None, "b": "a", "c": "a"}, None),  # two heads: Alembic's own reading decides
        ({}, "base"),
    ],
)
def test_head_revision_follows_branches_and_merges(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    scripts: dict[str, str | tuple[str, ...] | None],
    head: str | None,
) -> None:
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "__init__.py").write_text("")
    for revision, down in scripts.items():
        (versions / f"r_{revision}.py").write_text(
            f'"""{revision}"""\n\nrevision = {revision!r}\ndown_revision = {down!r}\n'
        )
    monkeypatch.setattr(schema, "script_location", lambda: tmp_path)
    expected = head if head is not None else _alembic_heads()[0]
    assert head_revision() == expected
    if scripts:
        assert expected in _alembic_heads()


def test_current_revision_refuses_a_store_on_two_branches(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    engine = create_engine(sqlite_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO alembic_version (version_num) VALUES ('other')"))
    finally:
        engine.dispose()
    with pytest.raises(StoreError, match="several revisions"):
        current_revision(sqlite_url)
