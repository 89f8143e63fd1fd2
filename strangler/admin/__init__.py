"""The admin side of ``strangler serve``: JSON API, HTML dashboard and Prometheus metrics."""

from __future__ import annotations

from strangler.admin._app import create_admin_app
from strangler.admin.attach import Attached, attach_cutover, cutover_components
from strangler.admin.server import AdminServer

__all__ = [
    "AdminServer",
    "Attached",
    "attach_cutover",
    "create_admin_app",
    "cutover_components",
]
