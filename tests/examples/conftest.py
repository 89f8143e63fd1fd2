"""The example pair on real servers: a seeded legacy database, its copy in the new schema."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from a2wsgi import WSGIMiddleware

from examples.legacy.app import create_app as create_legacy
from examples.mappings import copy_all
from examples.new.app import create_app as create_new
from examples.seed import seed
from tests.conftest import LiveServer


@dataclass(frozen=True)
class Pair:
    """Legacy and new, each on a real server over its own copy of the seeded data."""

    legacy: httpx.Client
    new: httpx.Client
    legacy_db: Path
    new_db: Path


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Seeded once per run: the legacy file and the new file copied from it."""
    folder = tmp_path_factory.mktemp("seeded")
    legacy, new = folder / "legacy.db", folder / "new.db"
    seed(legacy, seed=7)
    copy_all(legacy, new)
    return legacy, new


@pytest.fixture
def pair(
    seeded: tuple[Path, Path], tmp_path: Path, serve: Callable[..., LiveServer]
) -> Iterator[Pair]:
    legacy_db, new_db = tmp_path / "legacy.db", tmp_path / "new.db"
    shutil.copy(seeded[0], legacy_db)
    shutil.copy(seeded[1], new_db)
    legacy = serve(WSGIMiddleware(create_legacy(legacy_db), workers=8))  # type: ignore[arg-type]
    new = serve(create_new(new_db))
    clients = [httpx.Client(base_url=s.url, timeout=30) for s in (legacy, new)]
    yield Pair(clients[0], clients[1], legacy_db, new_db)
    for c in clients:
        c.close()
