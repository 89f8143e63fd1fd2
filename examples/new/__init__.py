"""The rewrite (ASGI, Starlette): commands over repositories over SQLAlchemy models."""

from __future__ import annotations

from examples.new.app import app, create_app

__all__ = ["app", "create_app"]
