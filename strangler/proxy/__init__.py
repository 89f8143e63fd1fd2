"""The routing proxy: an ASGI app in front of legacy and new.

::

    from strangler.config import load_config
    from strangler.proxy import Proxy

    proxy = Proxy(load_config("strangler.yaml"))
    uvicorn.run(proxy, host="127.0.0.1", port=8000, **SERVER_SETTINGS)
"""

from __future__ import annotations

from strangler.proxy._app import SERVER_SETTINGS, Hook, Proxy, ShadowSink
from strangler.proxy._headers import CONTROL_SIDE, CONTROL_TOKEN, HOP_BY_HOP, HeaderPolicy

__all__ = [
    "CONTROL_SIDE",
    "CONTROL_TOKEN",
    "HOP_BY_HOP",
    "SERVER_SETTINGS",
    "HeaderPolicy",
    "Hook",
    "Proxy",
    "ShadowSink",
]
