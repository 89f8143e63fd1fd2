"""Answers that name a backend's own URL point at the proxy instead.

An HTTP backend gets its own ``Host`` (the client's stays in ``X-Forwarded-Host``), so
the URLs it builds name itself: a redirect ``GET /api/articles/`` → ``307 Location:
http://10.0.0.5:8001/api/articles`` would take the client away from the proxy, and from
the migration. Like nginx's ``proxy_redirect default``, the proxy rewrites ``Location``,
``Content-Location`` and the ``url=`` of ``Refresh`` when they point under a backend's base
URL (any backend of the config: a redirect from new to legacy's address is as wrong), to
the same path under the URL the client used (its scheme and ``Host``, or the trusted
``X-Forwarded-Proto``/``-Host``). A backend with a path in its base URL
(``http://10.0.0.5:8001/v2``) has that path taken off, also from a path-only ``Location``
(``/v2/articles`` → ``/articles``). When the proxy is mounted inside another application
under a prefix that it takes off before forwarding (``proxy.paths.root_path: strip``), the
prefix is put back: ``/orgs/acme`` → ``/api/orgs/acme``. Every other URL (another site,
another port, a path outside the base) passes unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

__all__ = ["URL_HEADERS", "UrlRewriter"]

URL_HEADERS = frozenset({b"location", b"content-location", b"refresh"})
_DEFAULT_PORTS = {b"http": b"80", b"https": b"443"}


def _origin(scheme: bytes, netloc: bytes) -> bytes:
    """``scheme://host:port`` in one spelling (lower case, the port always written)."""
    scheme = scheme.lower()
    host = netloc.rpartition(b"@")[2].lower()
    if host.startswith(b"["):  # [::1]:8001
        name, _, rest = host.partition(b"]")
        port = rest[1:] if rest.startswith(b":") else b""
        host = name + b"]"
    else:
        host, _, port = host.partition(b":")
    return b"%s://%s:%s" % (scheme, host, port or _DEFAULT_PORTS.get(scheme, b""))


class UrlRewriter:
    """Rewrites the URL headers of answers from the backends at ``bases``.

    >>> r = UrlRewriter(["http://127.0.0.1:8001", "http://10.0.0.5/v2"])
    >>> r.url(b"http://127.0.0.1:8001/api/articles?page=2", b"https://shop.example")
    b'https://shop.example/api/articles?page=2'
    >>> r.url(b"http://10.0.0.5:80/v2/articles", b"http://127.0.0.1:8000")
    b'http://127.0.0.1:8000/articles'
    >>> r.url(b"https://elsewhere.example/x", b"http://127.0.0.1:8000")
    b'https://elsewhere.example/x'
    """

    def __init__(self, bases: Iterable[str]) -> None:
        self._bases: dict[bytes, bytes] = {}  # origin -> path prefix (no trailing slash)
        for base in bases:
            url = urlsplit(base)
            if url.scheme in ("http", "https") and url.netloc:
                origin = _origin(url.scheme.encode(), url.netloc.encode("latin-1"))
                self._bases[origin] = url.path.rstrip("/").encode("latin-1")
        self._prefixes = tuple(p for p in self._bases.values() if p)

    def __bool__(self) -> bool:
        return bool(self._bases)

    def headers(
        self, headers: list[tuple[bytes, bytes]], client: bytes, mount: bytes = b""
    ) -> None:
        """Rewrite, in place, the URL headers of ``headers`` for a client at ``client``
        (``scheme://host[:port]``, as the client spelled it) reaching the proxy under the
        path prefix ``mount`` (``b""`` unless mounted in another app)."""
        for i, (name, value) in enumerate(headers):
            if name in URL_HEADERS:
                new = (
                    self.refresh(value, client, mount)
                    if name == b"refresh"
                    else self.url(value, client, mount)
                )
                if new is not value:
                    headers[i] = (name, new)

    def url(self, value: bytes, client: bytes, mount: bytes = b"") -> bytes:
        """``value`` pointed at ``client`` (under ``mount``) when it is under a backend's
        base URL."""
        stripped = value.strip()
        if stripped.startswith(b"//"):  # scheme-relative: the client's scheme, whichever
            scheme, rest = client.partition(b"://")[0], stripped[2:]
        elif stripped.startswith(b"/"):
            path = self._strip_prefix(stripped, value)
            return mount + path.strip() if mount else path
        else:
            scheme, sep, rest = stripped.partition(b"://")
            if not sep:
                return value  # a relative reference: relative to the proxy's URL already
        end = len(rest)
        for mark in (b"/", b"?", b"#"):
            at = rest.find(mark)
            if at != -1:
                end = min(end, at)
        netloc = rest[:end]
        prefix = self._bases.get(_origin(scheme, netloc))
        if prefix is None and stripped.startswith(b"//"):
            other = b"https" if scheme.lower() == b"http" else b"http"
            prefix = self._bases.get(_origin(other, netloc))
        if prefix is None:
            return value
        tail = rest[end:]
        if prefix:
            if not _under(tail, prefix):
                return value
            tail = tail[len(prefix) :]
        return client + mount + (tail if tail.startswith(b"/") or not tail else b"/" + tail)

    def refresh(self, value: bytes, client: bytes, mount: bytes = b"") -> bytes:
        """A ``Refresh`` value (``5; url=http://...``) with its URL rewritten."""
        lower = value.lower()
        at = lower.find(b"url=")
        if at == -1:
            return value
        start = at + 4
        quote = value[start : start + 1]
        if quote in (b"'", b'"'):
            start += 1
            end = value.find(quote, start)
            end = len(value) if end == -1 else end
        else:
            end = len(value)
        url = value[start:end]
        new = self.url(url, client, mount)
        return value if new is url else value[:start] + new + value[end:]

    def _strip_prefix(self, path: bytes, value: bytes) -> bytes:
        for prefix in self._prefixes:
            if _under(path, prefix):
                rest = path[len(prefix) :]
                return rest if rest.startswith(b"/") else b"/" + rest
        return value


def _under(path: bytes, prefix: bytes) -> bool:
    """Whether ``path`` is ``prefix`` or below it (``/v2``, ``/v2/x``, ``/v2?q``; not ``/v20``)."""
    return path.startswith(prefix) and path[len(prefix) : len(prefix) + 1] in (
        b"",
        b"/",
        b"?",
        b"#",
    )
