"""The legacy service (WSGI, Flask, hand-written SQL over a quirky schema)."""

from __future__ import annotations

from examples.legacy.app import application, create_app

__all__ = ["application", "create_app"]
