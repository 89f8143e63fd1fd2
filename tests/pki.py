"""A private CA made by trustme, and real uvicorn servers speaking TLS on 127.0.0.1.

``make_pki(folder)`` writes the PEM files a team behind an internal CA would have: the CA,
a server certificate for 127.0.0.1, one for ``legacy.internal`` only (host name mismatch),
a client certificate with its key, and a client certificate from another CA.
``serve_https(serve, app, pki)`` starts ``app`` over TLS and returns its ``https://`` URL.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme

from strangler._types import Receive, Scope, Send
from tests.conftest import LiveServer


@dataclass(frozen=True)
class PKI:
    """Paths of the PEM files (``*_cert`` files hold the certificate, ``*_key`` its key)."""

    ca: Path
    server_cert: Path
    server_key: Path
    named_cert: Path  # valid for legacy.internal only
    named_key: Path
    client_cert: Path
    client_key: Path
    stranger_cert: Path  # a client certificate from a CA the servers do not trust
    stranger_key: Path
    other_ca: Path


def make_pki(folder: Path) -> PKI:
    folder.mkdir(parents=True, exist_ok=True)
    ca, other = trustme.CA(), trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    named = ca.issue_cert("legacy.internal")
    client = ca.issue_cert("proxy@strangler.test")
    stranger = other.issue_cert("intruder@strangler.test")

    def write(name: str, blob: trustme.Blob) -> Path:
        path = folder / name
        blob.write_to_path(str(path))
        return path

    def chain(name: str, cert: trustme.LeafCert) -> Path:
        path = folder / name
        path.write_bytes(b"".join(b.bytes() for b in cert.cert_chain_pems))
        return path

    return PKI(
        ca=write("ca.pem", ca.cert_pem),
        server_cert=chain("server.pem", server),
        server_key=write("server.key", server.private_key_pem),
        named_cert=chain("named.pem", named),
        named_key=write("named.key", named.private_key_pem),
        client_cert=chain("client.pem", client),
        client_key=write("client.key", client.private_key_pem),
        stranger_cert=chain("stranger.pem", stranger),
        stranger_key=write("stranger.key", stranger.private_key_pem),
        other_ca=write("other-ca.pem", other.cert_pem),
    )


class Hello:
    """Answers ``{"side": ..., "path": ...}`` and counts the requests it was handed."""

    def __init__(self, side: str = "legacy") -> None:
        self.side = side
        self.calls = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        self.calls += 1
        body = json.dumps({"side": self.side, "path": scope["path"]}).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def serve_https(
    serve: Callable[..., LiveServer],
    app: Any,
    pki: PKI,
    *,
    named: bool = False,
    require_client_cert: bool = False,
) -> str:
    """Serve ``app`` over TLS with the 127.0.0.1 certificate (or the legacy.internal one);
    with ``require_client_cert`` a client must show a certificate from the private CA."""
    cert, key = (pki.named_cert, pki.named_key) if named else (pki.server_cert, pki.server_key)
    options: dict[str, Any] = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    if require_client_cert:
        options.update(ssl_ca_certs=str(pki.ca), ssl_cert_reqs=ssl.CERT_REQUIRED)
    live = serve(app, **options)
    return f"https://127.0.0.1:{live.port}"
