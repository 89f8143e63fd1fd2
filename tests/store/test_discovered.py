"""``discovered_minutes``: each process adds its per-minute counts per method and template,
renames move a template's counts, readers sum the processes; on every supported engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from strangler.discovery_recorder import DiscoveryRecorder
from strangler.store import Store, upgrade
from strangler.store.discovered import discovered_activity, write_discovered

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
ORDER = "/orders/{order_id}"


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    if request.param == "sqlite":
        return sqlite_url
    found: str = request.getfixturevalue(f"{request.param}_url")
    return found


@pytest.fixture
def store(url: str) -> Store:
    upgrade(url)
    return Store(url)


def test_instances_add_up_and_the_day_is_a_part_of_the_week(store: Store) -> None:
    old, recent = NOW - timedelta(days=3), NOW - timedelta(minutes=5)
    write_discovered(store, "p1", {("GET", ORDER, old): 7, ("GET", ORDER, recent): 2})
    write_discovered(store, "p2", {("GET", ORDER, recent): 3, ("POST", "/orders", recent): 1})
    write_discovered(store, "p2", {("GET", ORDER, recent): 1})  # adds to its own row
    found = discovered_activity(store, NOW - timedelta(days=7), NOW - timedelta(days=1))
    assert found == {
        ("GET", ORDER): (6, 13, recent),
        ("POST", "/orders"): (1, 1, recent),
    }
    store.close()


def test_a_rename_moves_one_process_counts_into_the_template(store: Store) -> None:
    a, b = NOW - timedelta(minutes=2), NOW - timedelta(minutes=1)
    org = "/orgs/{org}/donations/{donation_id}"
    acme = "/orgs/acme/donations/{donation_id}"
    write_discovered(store, "p1", {("GET", acme, a): 4, ("GET", org, b): 1})
    write_discovered(store, "p2", {("GET", acme, a): 9})
    write_discovered(store, "p1", {("GET", org, b): 2}, {("GET", acme): org})
    found = discovered_activity(store, NOW - timedelta(days=7), NOW - timedelta(days=1))
    assert found[("GET", org)] == (7, 7, b)
    assert found[("GET", acme)] == (9, 9, a)  # the other process renames its own
    store.close()


def test_the_recorder_writes_templates_and_renames_words_that_vary(store: Store) -> None:
    clock = [NOW - timedelta(minutes=1)]
    recorder = DiscoveryRecorder(store, instance="test", clock=lambda: clock[0])
    assert recorder.flush([("GET", "/orgs/acme/donations/1"), ("GET", "/orgs/hope/donations/2")])
    clock[0] = NOW
    orgs = ["acme", "hope", "relief", "shelter", "harbour", "meadow"]
    assert recorder.flush([("GET", f"/orgs/{org}/donations/{n}") for n, org in enumerate(orgs)])
    found = discovered_activity(store, NOW - timedelta(days=7), NOW - timedelta(days=1))
    assert found == {("GET", "/orgs/{org}/donations/{donation_id}"): (8, 8, NOW)}
    store.close()


def test_what_the_store_refused_is_written_once_it_is_back(sqlite_url: str) -> None:
    store = Store(sqlite_url)  # no schema yet: every write fails
    recorder = DiscoveryRecorder(store, instance="test", clock=lambda: NOW)
    try:
        assert not recorder.flush([("GET", "/orders/1")], dropped=1)
        assert not recorder.flush([("GET", "/orders/2")])
        upgrade(sqlite_url)
        assert recorder.flush()
        found = discovered_activity(store, NOW - timedelta(days=7), NOW - timedelta(days=1))
        assert found == {("GET", ORDER): (3, 3, NOW)}
        assert recorder.sampled_out == 1
    finally:
        store.close()
