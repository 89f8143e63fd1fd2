"""Factories for the data-migration tests: a legacy shop, its new schema, configs."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, create_engine, insert

from migrations import Databases, load_mapping, open_databases
from strangler.config import Config, load_config
from strangler.store import Store
from tests.migrations import shop

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Shop:
    """A legacy shop database, an empty new database, a store and a config naming them."""

    config_path: Path
    config: Config
    legacy: Engine
    new: Engine
    store: Store
    dbs: Databases

    def add_orders(self, ids: range | list[int], **kw: Any) -> None:
        rows = [shop.order_row(i, **kw) for i in ids]
        with self.legacy.begin() as conn:
            for i in range(0, len(rows), 5000):
                conn.execute(insert(shop.ORDERS), rows[i : i + 5000])

    def add_lines(self, orders: int, lines: int) -> None:
        rows = [shop.line_row(o, n) for o in range(1, orders + 1) for n in range(1, lines + 1)]
        with self.legacy.begin() as conn:
            conn.execute(insert(shop.ORD_LN), rows)

    def mapping(self, name: str = "orders") -> Any:
        return load_mapping(self.config, name)

    def count(self, table: str) -> int:
        from sqlalchemy import text

        with self.new.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def _args(url: str) -> dict[str, Any]:
    return {"timeout": 30} if url.startswith("sqlite") else {}


@pytest.fixture
def make_shop(tmp_path: Path) -> Iterator[Callable[..., Shop]]:
    """``make_shop(legacy_url, new_url, store_url)``: fresh schemas on both sides."""
    made: list[Shop] = []

    def _make(legacy_url: str, new_url: str, store_url: str | None = None) -> Shop:
        store_url = store_url or f"sqlite:///{tmp_path / 'store.db'}"
        legacy = create_engine(legacy_url, connect_args=_args(legacy_url))
        new = create_engine(new_url, connect_args=_args(new_url))
        shop.legacy.create_all(legacy)
        shop.new.create_all(new)
        data = {
            "legacy": "http://127.0.0.1:9",
            "new": "http://127.0.0.1:9",
            "store": store_url,
            "databases": {"legacy": legacy_url, "new": new_url},
            "mappings": {
                "orders": "tests.migrations.shop:ORDERS_MAPPING",
                "lines": "tests.migrations.shop:LINES_MAPPING",
                "lines_sql": "tests.migrations.shop:LINES_SQL_MAPPING",
            },
        }
        path = tmp_path / f"strangler-{len(made)}.yaml"
        path.write_text(yaml.safe_dump(data))
        cfg = load_config(path)
        store = Store(cfg.store)
        store.ensure_schema()
        s = Shop(path, cfg, legacy, new, store, open_databases(cfg))
        made.append(s)
        return s

    yield _make
    for s in made:
        s.store.close()
        s.dbs.dispose()
        s.legacy.dispose()
        s.new.dispose()


@pytest.fixture
def sqlite_shop(tmp_path: Path, make_shop: Callable[..., Shop]) -> Shop:
    """Legacy and new as two SQLite files."""
    return make_shop(f"sqlite:///{tmp_path / 'legacy.db'}", f"sqlite:///{tmp_path / 'new.db'}")


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    return env
