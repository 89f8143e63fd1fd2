"""The header policy: what crosses the proxy, in each direction.

- Hop-by-hop headers (RFC 9110 §7.6.1: Connection, Keep-Alive, Proxy-Connection, TE,
  Trailer, Transfer-Encoding, Upgrade, Proxy-Authenticate, Proxy-Authorization) and every
  header named in ``Connection`` are removed both ways.
- ``X-Forwarded-For/-Proto/-Host`` (and ``Forwarded``) from the client are kept only when
  the client's address is one of ``proxy.trusted_proxies``; otherwise they are replaced.
- The control headers ``X-Strangler-Side`` and ``X-Strangler-Token`` are read here and
  never forwarded.
- ``Host`` is passed on as sent; an HTTP backend replaces it with its own host (the
  original stays in ``X-Forwarded-Host``). Answers' ``Location``, ``Content-Location`` and
  ``Refresh`` that name a backend's own URL are pointed back at the URL the client used
  (:mod:`strangler.proxy._redirects`).
- Everything else passes unchanged, in order, repeated headers kept apart.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache
from typing import NamedTuple

from strangler.config import ProxySettings
from strangler.proxy._redirects import URL_HEADERS, UrlRewriter

__all__ = [
    "CONTROL_SIDE",
    "CONTROL_TOKEN",
    "HOP_BY_HOP",
    "ForwardedRequest",
    "HeaderPolicy",
    "connection_tokens",
]

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-authenticate",
        b"proxy-authorization",
    }
)
CONTROL_SIDE = b"x-strangler-side"
CONTROL_TOKEN = b"x-strangler-token"
_XFF, _XFP, _XFH = b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host"
_DROP_IN = HOP_BY_HOP | {CONTROL_SIDE, CONTROL_TOKEN, _XFF, _XFP, _XFH, b"forwarded"}
_VIA = b"1.1 strangler"
# Connection values that name only hop-by-hop headers (removed anyway): nothing to filter.
_PLAIN_CONNECTION = frozenset({b"keep-alive", b"close", b"Keep-Alive", b"Close"})

Raw = list[tuple[bytes, bytes]]


def connection_tokens(values: Iterable[bytes]) -> frozenset[bytes]:
    """The header names listed in ``Connection`` values (lower-case).

    >>> sorted(connection_tokens([b"keep-alive, X-Secret", b"close"]))
    [b'close', b'keep-alive', b'x-secret']
    """
    return frozenset(t.strip().lower() for value in values for t in value.split(b",") if t.strip())


class ForwardedRequest(NamedTuple):
    """The headers to send upstream and what the policy learned on the way.

    (A named tuple, not a frozen dataclass: one is built per request, four times faster.)
    """

    headers: Raw
    client_ip: str | None  # the client as trusted: the peer, or from X-Forwarded-For
    side: bytes | None  # X-Strangler-Side as sent (honoured only with a good token)
    token: bytes | None  # X-Strangler-Token as sent
    proto: bytes = b"http"  # the scheme the client used (or the trusted X-Forwarded-Proto)
    host: bytes | None = None  # the Host the client used (or the trusted X-Forwarded-Host)
    mount: bytes = b""  # the prefix the app is mounted under, taken off before forwarding

    def origin(self) -> bytes | None:
        """``scheme://host`` as the client used them (the first of a forwarded list)."""
        if not self.host:
            return None
        proto = self.proto.split(b",", 1)[0].strip()
        return proto + b"://" + self.host.split(b",", 1)[0].strip()


class HeaderPolicy:
    """The header rules of one proxy (built once from ``ProxySettings``)."""

    def __init__(self, settings: ProxySettings, backend_urls: Iterable[str] = ()) -> None:
        self.via = settings.via
        self._urls = UrlRewriter(backend_urls)
        self._networks = tuple(
            ipaddress.ip_network(n, strict=False) for n in settings.trusted_proxies
        )
        self.is_trusted = lru_cache(maxsize=4096)(self._is_trusted)

    def _is_trusted(self, ip: str) -> bool:
        if not self._networks:
            return False
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr in net for net in self._networks)

    def request(
        self, headers: Iterable[tuple[bytes, bytes]], peer: str | None, scheme: str
    ) -> ForwardedRequest:
        """The upstream headers for a client request from ``peer`` over ``scheme``."""
        out: Raw = []
        connection: list[bytes] = []
        xff: list[bytes] = []
        xfp = xfh = host = side = token = forwarded = None
        via: list[bytes] = []
        for name, value in headers:
            if name not in _DROP_IN:
                if name == b"host":
                    host = value
                elif name == b"via":
                    via.append(value)
                    continue
                out.append((name, value))
            elif name == b"connection":
                connection.append(value)
            elif name == _XFF:
                xff.append(value)
            elif name == _XFP:
                xfp = value
            elif name == _XFH:
                xfh = value
            elif name == b"forwarded":
                forwarded = value
            elif name == CONTROL_SIDE:
                side = value
            elif name == CONTROL_TOKEN:
                token = value
        if connection and not (len(connection) == 1 and connection[0] in _PLAIN_CONNECTION):
            named = connection_tokens(connection)
            out = [(k, v) for k, v in out if k not in named]
            via = [] if b"via" in named else via
        trusted = peer is not None and bool(self._networks) and self.is_trusted(peer)
        peer_b = peer.encode("latin-1") if peer else b"unknown"
        client_ip = peer
        if trusted and xff:
            chain = b", ".join(xff)
            out.append((_XFF, chain + b", " + peer_b))
            client_ip = self._client_from_chain(chain.decode("latin-1"), peer)
        else:
            out.append((_XFF, peer_b))
        proto = xfp if trusted and xfp else scheme.encode("latin-1")
        out.append((_XFP, proto))
        forwarded_host = xfh if trusted and xfh else host
        if forwarded_host:
            out.append((_XFH, forwarded_host))
        if trusted and forwarded is not None:
            out.append((b"forwarded", forwarded))
        if self.via:
            via.append(_VIA)
        if via:
            out.append((b"via", b", ".join(via)))
        return ForwardedRequest(out, client_ip, side, token, proto, forwarded_host)

    def _client_from_chain(self, chain: str, peer: str | None) -> str | None:
        # The client is the right-most address that is not one of our trusted proxies.
        hops = [h.strip() for h in chain.split(",") if h.strip()]
        for hop in reversed(hops):
            if not self.is_trusted(hop):
                return hop
        return hops[0] if hops else peer

    def client_urls(self, answer: Raw, forwarded: Raw) -> Raw:
        """``answer`` with backend URLs pointed at the client, for a request sent with the
        ``forwarded`` headers (``X-Forwarded-Proto/-Host`` say the client's URL): what the
        shadow runner applies, so that legacy's and new's redirects compare as clients see
        them."""
        if not self._urls or not any(name in URL_HEADERS for name, _ in answer):
            return answer
        proto, host = b"http", None
        for name, value in forwarded:
            if name == _XFP:
                proto = value
            elif name == _XFH:
                host = value
        origin = ForwardedRequest([], None, None, None, proto, host).origin()
        if origin is None:
            return answer
        out = list(answer)
        self._urls.headers(out, origin)
        return out

    def response(self, headers: Raw, request: ForwardedRequest | None = None) -> Raw:
        """The client-bound headers of an upstream answer (names lower-case); with the
        ``request`` it answers, URLs naming a backend point at the client's URL instead."""
        out: Raw = []
        connection: list[bytes] = []
        urls = False
        for name, value in headers:
            if name in HOP_BY_HOP:
                if name == b"connection":
                    connection.append(value)
                continue
            urls = urls or name in URL_HEADERS
            out.append((name, value))
        if urls and self._urls and request is not None:
            origin = request.origin()
            if origin is not None:
                self._urls.headers(out, origin, request.mount)
        if connection and not (len(connection) == 1 and connection[0] in _PLAIN_CONNECTION):
            named = connection_tokens(connection)
            out = [(k, v) for k, v in out if k not in named]
        if self.via:
            out.append((b"via", _VIA))
        return out
