"""Mappings load from the config with clear errors; keys survive the store's JSON."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from migrations import Mapping, load_mapping, open_databases
from migrations.keys import decode_key, encode_key
from strangler._errors import ConfigError, MigrationError
from strangler.config import parse_config
from tests.migrations import shop

BASE = {"legacy": "http://127.0.0.1:9", "new": "http://127.0.0.1:9"}


def test_keys_round_trip_through_json() -> None:
    key = (
        7,
        "a",
        Decimal("1.50"),
        datetime(2024, 1, 2, 3, 4, tzinfo=UTC),
        date(2024, 5, 6),
        b"\x01",
    )
    assert decode_key(encode_key(key)) == key
    assert decode_key(None) is None


def test_mapping_next_to_the_config_is_imported(tmp_path: Path) -> None:
    (tmp_path / "my_maps.py").write_text(
        "from tests.migrations.shop import ORDERS_MAPPING as ORDERS\n"
    )
    cfg = parse_config(
        {**BASE, "mappings": {"orders": "my_maps:ORDERS"}}, source=str(tmp_path / "s.yaml")
    )
    assert load_mapping(cfg, "orders") is shop.ORDERS_MAPPING


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no_such_module_xyz:M", "cannot import 'no_such_module_xyz': ModuleNotFoundError"),
        ("tests.migrations.shop:orders", "is Table, expected a migrations.Mapping"),
    ],
)
def test_bad_mapping_specs_are_named(spec: str, message: str) -> None:
    cfg = parse_config({**BASE, "mappings": {"m": spec}})
    with pytest.raises(MigrationError, match=message) as info:
        load_mapping(cfg, "m")
    assert info.value.mapping == "m"


def test_a_mapping_that_is_not_module_attribute_is_a_config_error() -> None:
    with pytest.raises(
        ConfigError, match=r"'tests\.migrations\.shop' is not 'package\.module:attr"
    ):
        parse_config({**BASE, "mappings": {"m": "tests.migrations.shop"}})


def test_mapping_checks_its_columns() -> None:
    with pytest.raises(MigrationError, match="legacy source has no column 'ORDER_ID'"):
        Mapping("m", shop.ORDERS, "ORDER_ID", shop.order_rows, shop.orders)
    with pytest.raises(MigrationError, match="target orders has no column 'order_id'"):
        Mapping("m", shop.ORDERS, "ORD_ID", shop.order_rows, shop.orders, target_key="order_id")
    with pytest.raises(MigrationError, match="no column 'ORD_ID'; set target_key"):
        Mapping("m", select(shop.ORDERS.c.ORD_ID), "ORD_ID", shop.order_rows, shop.orders)
    m = Mapping("m", select(shop.ORDERS), "ORD_ID", shop.order_rows, shop.orders, target_key="id")
    assert (m.keys, m.target_keys, m.target_pk) == (("ORD_ID",), ("id",), ("id",))


def test_missing_database_urls_say_what_to_add() -> None:
    with pytest.raises(MigrationError, match=r"no databases.legacy URL"):
        open_databases(parse_config(BASE))
