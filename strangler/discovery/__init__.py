"""Discovery: the legacy surface as it really is, from what teams already have.

``strangler discover access.log openapi.yaml`` reads access logs (nginx/Apache combined,
IIS W3C, JSON lines), HAR files and OpenAPI documents, infers path templates (identifiers
and high-cardinality segments become parameters, in bounded memory) and prints route
entries ready to paste under ``routes:``, with each endpoint's share of the traffic.
See docs/discovery.md.
"""

from __future__ import annotations

from strangler.discovery._discover import Discovery, discover, routes_yaml
from strangler.discovery._sources import (
    FORMATS,
    JsonKeys,
    ReadOptions,
    ReadStats,
    detect,
    read_requests,
)
from strangler.discovery._templates import DiscoveredRoute, TemplateTree, identifier_kind

__all__ = [
    "FORMATS",
    "DiscoveredRoute",
    "Discovery",
    "JsonKeys",
    "ReadOptions",
    "ReadStats",
    "TemplateTree",
    "detect",
    "discover",
    "identifier_kind",
    "read_requests",
    "routes_yaml",
]
