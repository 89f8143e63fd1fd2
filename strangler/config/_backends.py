"""Where requests go: a backend's target, its timeouts, its pool and TLS towards it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator, model_validator

from strangler._tls import ca_file_problem, client_pair_problem
from strangler.config._base import Frozen, config_path

__all__ = ["BackendConfig", "TLSConfig", "Timeouts"]


class Timeouts(Frozen):
    """Seconds allowed to reach a backend, to wait between bytes, and for the whole answer."""

    connect: float = Field(2.0, gt=0, le=86_400, description="seconds to open a connection")
    read: float = Field(30.0, gt=0, le=86_400, description="seconds to wait for the next bytes")
    total: float = Field(60.0, gt=0, le=86_400, description="seconds for the whole exchange")


class TLSConfig(Frozen):
    """TLS towards an https:// backend: which CAs to trust and the client certificate to show.

    Paths are relative to the config file. ``ca_file`` replaces the system store (put public
    CAs in the same bundle if the backend needs both)::

    legacy:
      target: https://legacy.internal:8443
      tls:
        ca_file: certs/internal-ca.pem
        client_cert: certs/proxy.pem
        client_key: certs/proxy.key
    """

    ca_file: str | None = Field(
        None, description="PEM bundle of the CAs to trust, instead of the system store"
    )
    client_cert: str | None = Field(
        None, description="PEM client certificate for mutual TLS (with client_key)"
    )
    client_key: str | None = Field(
        None,
        validate_default=True,
        description="unencrypted PEM private key of client_cert (with client_cert)",
    )
    verify: bool = Field(
        True, description="check the backend's certificate; false is logged as a warning"
    )
    server_hostname: str | None = Field(
        None, description="name sent (SNI) and checked in the certificate, instead of the URL's"
    )

    @field_validator("ca_file", "client_cert")
    @classmethod
    def _check_pem_file(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        path = config_path(value, info)
        problem = ca_file_problem(path)
        if problem is not None:
            what = (
                "file of CA certificates" if info.field_name == "ca_file" else "client certificate"
            )
            raise ValueError(f"a readable PEM {what} ({problem})")
        return str(path)

    @field_validator("client_key")
    @classmethod
    def _check_client_key(cls, value: str | None, info: ValidationInfo) -> str | None:
        if "client_cert" not in info.data:
            return value  # client_cert itself was wrong: that is the error reported
        cert = info.data["client_cert"]
        if value is None:
            if cert is not None:
                raise ValueError("the private key of client_cert: mutual TLS needs both")
            return None
        if cert is None:
            raise ValueError("client_cert as well: mutual TLS needs both (or neither)")
        path = config_path(value, info)
        found = client_pair_problem(Path(cert), path)
        if found is not None:
            raise ValueError(f"the unencrypted PEM private key of client_cert ({found[1]})")
        return str(path)

    @field_validator("server_hostname")
    @classmethod
    def _check_server_hostname(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9.:*_-]+", value):
            raise ValueError("a host name such as legacy.internal (no scheme, port or path)")
        return value


class BackendConfig(Frozen):
    """Where requests go: a base URL or an in-process app given as ``module:attr``.

    A plain string is accepted: ``legacy: http://127.0.0.1:8001``.
    """

    target: str = Field(description="http(s) base URL, or 'package.module:attribute'")
    interface: Literal["auto", "asgi", "wsgi"] = Field(
        "auto", description="for an in-process app: ASGI or WSGI (auto guesses)"
    )
    timeouts: Timeouts = Timeouts()
    max_connections: int = Field(
        100, ge=1, le=100_000, description="pooled connections to this backend"
    )
    host: Literal["backend", "client"] = Field(
        "backend",
        description="Host header of HTTP requests: the backend's own, or the client's as sent",
    )
    tls: TLSConfig | None = Field(
        None, description="for an https:// target: trusted CAs, client certificate"
    )

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        return {"target": data} if isinstance(data, str) else data

    @field_validator("tls", mode="before")
    @classmethod
    def _check_tls(cls, value: Any, info: ValidationInfo) -> Any:
        # before the TLS files are checked: for a plain backend they are beside the point
        target = info.data.get("target")
        if value is None or target is None or target.startswith("https://"):
            return value
        if target.startswith("http://"):
            raise ValueError(f"no tls key: {target} is plain HTTP (tls is for https:// targets)")
        raise ValueError(f"no tls key: {target} is an in-process app (no network, no TLS)")

    @field_validator("target")
    @classmethod
    def _check_target(cls, value: str) -> str:
        if value.startswith(("http://", "https://")):
            parts = urlsplit(value)
            try:
                port = parts.port
            except ValueError:
                raise ValueError("a URL whose port is a number from 1 to 65535") from None
            if not parts.hostname:
                raise ValueError("an http(s):// URL with a host, e.g. http://127.0.0.1:8001")
            if port == 0:
                raise ValueError("a URL whose port is a number from 1 to 65535")
            return value.rstrip("/")
        if re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*", value):
            return value
        raise ValueError("an http(s):// URL or an in-process app as 'module:attribute'")

    @property
    def is_remote(self) -> bool:
        return self.target.startswith(("http://", "https://"))
