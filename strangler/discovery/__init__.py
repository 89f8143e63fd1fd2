"""Discovery: the legacy surface as it really is, from what teams already have
and from the proxy's own catch-all traffic.

``strangler discover access.log openapi.yaml`` reads access logs (nginx/Apache combined,
IIS W3C, JSON lines), HAR files and OpenAPI documents, infers path templates (identifiers
and high-cardinality segments become parameters, in bounded memory) and prints route
entries ready to paste under ``routes:``, with each endpoint's share of the traffic.
The proxy learns the same templates from the requests its catch-all answers
(:class:`CatchAllSample` on the hot path, :class:`LiveTemplates` off it; see
:mod:`strangler.discovery_recorder`). See docs/discovery.md.
"""

from __future__ import annotations

from strangler.discovery._discover import Discovery, declared_by, discover, routes_yaml
from strangler.discovery._live import OTHER, CatchAllSample, Fold, LiveTemplates, regroup
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
    "OTHER",
    "CatchAllSample",
    "DiscoveredRoute",
    "Discovery",
    "Fold",
    "JsonKeys",
    "LiveTemplates",
    "ReadOptions",
    "ReadStats",
    "TemplateTree",
    "declared_by",
    "detect",
    "discover",
    "identifier_kind",
    "read_requests",
    "regroup",
    "routes_yaml",
]
