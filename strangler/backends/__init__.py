"""Backends: where the proxy sends a request.

A remote HTTP service (strangler's own pooled HTTP/1.1 client) or an in-process
application given as ``"module:attr"`` (ASGI called directly, WSGI through a2wsgi). All
implement
:class:`Backend`::

    backend = build_backend("legacy", config.legacy)
    resp = await backend.send(
        UpstreamRequest("GET", "/orgs/acme", [(b"accept", b"*/*")]),
        timeouts=config.legacy.timeouts,
        route="GET /orgs/{slug}",
    )
    body = await resp.read()
    await backend.aclose()

An ``https://`` backend trusts what its ``tls`` settings say; :func:`ssl_context` makes the
same ``ssl.SSLContext`` for any other client (``httpx.Client(verify=ssl_context(cfg.tls))``).
"""

from __future__ import annotations

from strangler._tls import client_context, pin_server_hostname, ssl_context
from strangler.backends._base import Backend, RawHeaders, UpstreamRequest, UpstreamResponse
from strangler.backends._build import build_backend, build_backends, load_app
from strangler.backends._http import HTTPBackend
from strangler.backends._inprocess import ASGIBackend, is_asgi
from strangler.backends._websocket import (
    HandshakeRefused,
    WebSocketClosed,
    WebSocketUnsupported,
    WebSocketUpstream,
    websocket_url,
)

__all__ = [
    "ASGIBackend",
    "Backend",
    "HTTPBackend",
    "HandshakeRefused",
    "RawHeaders",
    "UpstreamRequest",
    "UpstreamResponse",
    "WebSocketClosed",
    "WebSocketUnsupported",
    "WebSocketUpstream",
    "build_backend",
    "build_backends",
    "client_context",
    "is_asgi",
    "load_app",
    "pin_server_hostname",
    "ssl_context",
    "websocket_url",
]
