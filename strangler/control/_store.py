"""Open the config's store for an operator's command, its schema brought up to date."""

from __future__ import annotations

from strangler._errors import StoreError
from strangler.config import Config
from strangler.store import Store, current_revision, head_revision

__all__ = ["open_store"]


def open_store(config: Config, *, upgrade: bool = True) -> Store:
    """The config's store, its schema upgraded to the newest revision when behind.

    Several processes may start at once on a fresh store: when one of them loses the race
    to create the schema, it accepts the winner's work.
    """
    store = Store(config.store)
    if upgrade:
        try:
            store.ensure_schema()
        except StoreError:
            if current_revision(config.store) != head_revision():
                store.close()
                raise
    return store
