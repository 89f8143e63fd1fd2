"""``strangler report``: what shadow traffic found, per route (table, Markdown, JSON, HTML).

::

    from strangler.report import build_report, render
    print(render(build_report(store, config, since=parse_since("1h")), "md"))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from strangler._lazy import lazy_package as _lazy_package

if TYPE_CHECKING:
    from strangler.report.build import (
        Example,
        FieldReport,
        Latency,
        RouteReport,
        ShadowReport,
        build_report,
        parse_since,
    )
    from strangler.report.render import FORMATS, render, report_to_json

__all__ = [
    "FORMATS",
    "Example",
    "FieldReport",
    "Latency",
    "RouteReport",
    "ShadowReport",
    "build_report",
    "parse_since",
    "render",
    "report_to_json",
]

# Loaded on first use: `strangler report --help` needs FORMATS, not the store's queries.
_lazy_package(
    __name__,
    {
        "strangler.report.build": (
            "Example",
            "FieldReport",
            "Latency",
            "RouteReport",
            "ShadowReport",
            "build_report",
            "parse_since",
        ),
        "strangler.report.render": ("FORMATS", "render", "report_to_json"),
    },
)
