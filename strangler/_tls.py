"""TLS towards backends: one ``ssl.SSLContext`` per backend, from its ``tls`` settings.

Every client that talks to a backend takes its context from :func:`ssl_context` (public as
``strangler.backends.ssl_context``): the proxy's :class:`~strangler.backends.HTTPBackend`
(and with it the shadow runner, parity replay and recording), httpx
(``httpx.Client(verify=ssl_context(config.legacy.tls))``) and the load generator (locust's
``ssl_context_factory``). So a backend trusted by the proxy is trusted, for the same
reasons, by every tool::

    >>> context = ssl_context(None)            # an https:// backend without a ``tls`` key
    >>> context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    True

Trust: ``ca_file`` *replaces* the system store, as ``curl --cacert`` and requests'
``verify=PATH`` do: a backend behind a private CA is trusted through that CA only. A bundle
that should also hold public CAs is one PEM file with both.

The checks (:func:`ca_file_problem`, :func:`client_pair_problem`) are what the config load
runs, so a bad file is reported by ``strangler check`` rather than at the first request.
Only the standard library is imported here: the load generator's child process uses it too.
"""

from __future__ import annotations

import logging
import re
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from strangler.config import TLSConfig

__all__ = [
    "ca_file_problem",
    "client_context",
    "client_pair_problem",
    "handshake_problem",
    "pin_server_hostname",
    "ssl_context",
]

log = logging.getLogger("strangler.tls")

_OPENSSL_NOISE = re.compile(r"^\[[A-Z0-9_]+(?:: [A-Z0-9_]+)?\] | \(_ssl\.c:\d+\)$")


class _EncryptedKey(Exception):
    """The private key asks for a password (strangler has none to give)."""


def _no_password() -> str:
    raise _EncryptedKey


def client_context(
    *,
    ca_file: str | None = None,
    client_cert: str | None = None,
    client_key: str | None = None,
    verify: bool = True,
) -> ssl.SSLContext:
    """A client-side context: trust ``ca_file`` (else the system store), show the client
    certificate when given; ``verify=False`` checks neither the chain nor the host name.

    Raises :class:`ssl.SSLError` or :class:`OSError` for a bad file (the config load checks
    them first, with messages that name the key).
    """
    if verify:
        context = ssl.create_default_context(cafile=ca_file)
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if client_cert is not None:
        context.load_cert_chain(client_cert, client_key, password=_no_password)
    return context


def ssl_context(tls: TLSConfig | None, *, backend: str = "") -> ssl.SSLContext:
    """The context for an https:// backend whose ``tls`` settings are ``tls`` (None: the
    system store, host name checked). ``verify: false`` is logged as a warning each time a
    context is made, which is once per backend and process."""
    if tls is None:
        return client_context()
    if not tls.verify:
        where = f"{backend}.tls.verify" if backend else "tls.verify"
        log.warning(
            "%s is false: the certificate of backend %r is NOT checked, so anyone on the "
            "network path can pose as it; trust its CA with ca_file instead",
            where,
            backend or "?",
        )
    return client_context(
        ca_file=tls.ca_file,
        client_cert=tls.client_cert,
        client_key=tls.client_key,
        verify=tls.verify,
    )


def pin_server_hostname(context: ssl.SSLContext, hostname: str) -> ssl.SSLContext:
    """Make every connection made with ``context`` send ``hostname`` (SNI) and verify the
    certificate against it, whatever host the caller connects to.

    For clients that take a context but no server name (locust's); asyncio takes
    ``server_hostname=`` itself. The context's class is swapped for a subclass of its own
    class, so a gevent-patched context stays gevent's.
    """
    base: Any = type(context)

    class Pinned(base):  # type: ignore[misc]
        def wrap_socket(self, sock: Any, *args: Any, **kwargs: Any) -> Any:
            kwargs["server_hostname"] = hostname
            return super().wrap_socket(sock, *args, **kwargs)

        def wrap_bio(self, incoming: Any, outgoing: Any, *args: Any, **kwargs: Any) -> Any:
            kwargs["server_hostname"] = hostname
            return super().wrap_bio(incoming, outgoing, *args, **kwargs)

    context.__class__ = Pinned
    return context


def handshake_problem(exc: ssl.SSLError, *, backend: str = "") -> str:
    """What went wrong in a TLS handshake, in words, with the config key that fixes it.

    >>> handshake_problem(ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1000)"))
    'TLS handshake failed: wrong version number'
    """
    key = f"{backend}.tls" if backend else "tls"
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or "the certificate was refused"
        hint = (
            f"; trust the backend's CA with {key}.ca_file"
            if exc.verify_code in (19, 20, 21)  # self-signed in chain, unknown issuer, leaf
            else ""
        )
        if "mismatch" in reason:
            hint = f"; connect by a name the certificate carries, or set {key}.server_hostname"
        return f"TLS handshake failed: certificate verify failed: {reason}{hint}"
    code = getattr(exc, "reason", None)  # OpenSSL's name of the failure, when it gave one
    reason = _openssl(exc)
    hint = ""
    if code in ("TLSV13_ALERT_CERTIFICATE_REQUIRED", "SSLV3_ALERT_BAD_CERTIFICATE"):
        hint = f"; the backend wants a client certificate it trusts ({key}.client_cert/client_key)"
    elif code in ("TLSV1_ALERT_UNKNOWN_CA", "SSLV3_ALERT_CERTIFICATE_UNKNOWN"):
        hint = f"; the backend does not trust the client certificate ({key}.client_cert)"
    return f"TLS handshake failed: {reason}{hint}"


# -- the checks the config load runs ---------------------------------------------------------


def _unreadable(path: Path) -> str | None:
    try:
        with path.open("rb") as f:
            f.read(1)
    except FileNotFoundError:
        return f"no such file: {path}"
    except IsADirectoryError:
        return f"a directory, not a file: {path}"
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    return None


def ca_file_problem(path: Path) -> str | None:
    """None when ``path`` is a readable PEM file of CA certificates, else what is wrong."""
    problem = _unreadable(path)
    if problem is not None:
        return problem
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=str(path))
    except ssl.SSLError as exc:
        return f"no PEM certificate could be read from {path} ({_openssl(exc)})"
    return None


def client_pair_problem(cert: Path, key: Path) -> tuple[str, str] | None:
    """None when ``cert`` and ``key`` are a PEM certificate and its unencrypted private key,
    else ``(which, problem)`` where ``which`` is ``"client_cert"`` or ``"client_key"``."""
    for which, path in (("client_cert", cert), ("client_key", key)):
        problem = _unreadable(path)
        if problem is not None:
            return which, problem
    cert_problem = ca_file_problem(cert)
    if cert_problem is not None:
        return "client_cert", cert_problem
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(
            str(cert), str(key), password=_no_password
        )
    except _EncryptedKey:
        return "client_key", f"{key} is encrypted; give the key without a password"
    except ssl.SSLError as exc:
        if getattr(exc, "reason", None) == "KEY_VALUES_MISMATCH":
            return "client_key", f"{key} is not the private key of {cert}"
        return "client_key", f"no PEM private key could be read from {key} ({_openssl(exc)})"
    return None


def _openssl(exc: ssl.SSLError) -> str:
    return _OPENSSL_NOISE.sub("", str(exc.strerror or exc)).strip()
