"""Hooks a team would write: translate credentials between the two apps of ``apps.py``.

Imported by the proxy from the config (``hook: "tests.auth.bridge:legacy_to_new"``).
"""

from __future__ import annotations

import os

import httpx

from tests.auth.apps import legacy_token, legacy_user, new_token, new_user

CALLS = {"to_new": 0, "to_legacy": 0}


def legacy_to_new(value: str) -> str:
    """``Bearer L.ada.<sig>`` -> ``Bearer <new JWT for ada>``."""
    CALLS["to_new"] += 1
    user = legacy_user(value.removeprefix("Bearer "))
    if user is None:
        raise ValueError("not a legacy token")
    return f"Bearer {new_token(user)}"


async def new_to_legacy(value: str) -> str:
    """The reverse, for a rollback (an async hook)."""
    CALLS["to_legacy"] += 1
    user = new_user(value.removeprefix("Bearer "))
    if user is None:
        raise ValueError("not a new token")
    return f"Bearer {legacy_token(user)}"


async def session_to_new(value: str) -> str:
    """Legacy's session id -> a new session cookie: ask legacy whose session it is."""
    url = os.environ["LEGACY_URL"]
    async with httpx.AsyncClient() as client:
        resp = await client.get(f"{url}/internal/sessions/{value}")
    resp.raise_for_status()
    return new_token(resp.json()["user"])
