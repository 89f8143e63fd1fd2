"""A backend's ``tls`` settings: every bad value is a ConfigError naming file, key and value,
found when the config is loaded (so by ``strangler check``), not at the first request."""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml
from cryptography.hazmat.primitives import serialization

from strangler._errors import ConfigError
from strangler._tls import handshake_problem
from strangler.config import load_config
from tests.pki import PKI, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


def write(folder: Path, legacy: Any) -> Path:
    path = folder / "strangler.yaml"
    data = {"legacy": legacy, "new": "http://127.0.0.1:8002"}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def problem(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value


def https(**tls: Any) -> dict[str, Any]:
    return {"target": "https://legacy.internal:8443", "tls": tls}


def test_a_good_tls_block_loads_with_absolute_paths(tmp_path: Path, pki: PKI) -> None:
    tls = {
        "ca_file": str(pki.ca),
        "client_cert": str(pki.client_cert),
        "client_key": str(pki.client_key),
        "server_hostname": "legacy.internal",
    }
    config = load_config(write(tmp_path, https(**tls)))
    assert config.legacy.tls is not None
    assert config.legacy.tls.verify is True  # never off unless asked
    assert config.legacy.tls.client_key == str(pki.client_key)


def test_a_missing_ca_file_names_the_key_the_value_and_the_resolved_path(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, https(ca_file="certs/ca.pem"))
    err = problem(path)
    assert err.key == "legacy.tls.ca_file"
    assert err.value == "certs/ca.pem"
    assert str(err).startswith(f"{path}: legacy.tls.ca_file: got 'certs/ca.pem', expected ")
    assert f"no such file: {tmp_path / 'certs' / 'ca.pem'}" in str(err)


def test_a_file_that_is_not_pem_is_named(tmp_path: Path, pki: PKI) -> None:
    junk = tmp_path / "ca.pem"
    junk.write_text("not a certificate\n")
    err = problem(write(tmp_path, https(ca_file="ca.pem")))
    assert err.key == "legacy.tls.ca_file"
    assert "no PEM certificate could be read" in err.expected

    err = problem(write(tmp_path, https(client_cert=str(pki.client_key), client_key="k")))
    assert err.key == "legacy.tls.client_cert"
    assert "no PEM certificate could be read" in err.expected


def test_a_directory_is_not_a_ca_file(tmp_path: Path) -> None:
    err = problem(write(tmp_path, https(ca_file=".")))
    assert err.key == "legacy.tls.ca_file"
    assert "a directory, not a file" in err.expected


def test_client_cert_and_client_key_go_together(tmp_path: Path, pki: PKI) -> None:
    err = problem(write(tmp_path, https(client_cert=str(pki.client_cert))))
    assert err.key == "legacy.tls.client_key"
    assert err.value is None
    assert "mutual TLS needs both" in err.expected

    err = problem(write(tmp_path, https(client_key=str(pki.client_key))))
    assert err.key == "legacy.tls.client_key"
    assert "client_cert as well" in err.expected


def test_a_key_that_is_not_the_certificates_own_is_named(tmp_path: Path, pki: PKI) -> None:
    err = problem(
        write(tmp_path, https(client_cert=str(pki.client_cert), client_key=str(pki.server_key)))
    )
    assert err.key == "legacy.tls.client_key"
    assert f"{pki.server_key} is not the private key of {pki.client_cert}" in err.expected


def test_an_encrypted_key_is_refused_rather_than_prompting(tmp_path: Path) -> None:
    ca = trustme.CA()
    leaf = ca.issue_cert("proxy@strangler.test")
    cert = tmp_path / "client.pem"
    leaf.cert_chain_pems[0].write_to_path(str(cert))
    key = tmp_path / "client.key"
    private = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    err = problem(write(tmp_path, https(client_cert=str(cert), client_key=str(key))))
    assert err.key == "legacy.tls.client_key"
    assert "is encrypted" in err.expected


def test_an_unreadable_file_is_named(tmp_path: Path, pki: PKI) -> None:
    if not hasattr(os, "geteuid") or os.geteuid() == 0:
        pytest.skip("root reads every file")
    locked = tmp_path / "ca.pem"
    locked.write_bytes(pki.ca.read_bytes())
    locked.chmod(0)
    err = problem(write(tmp_path, https(ca_file="ca.pem")))
    assert err.key == "legacy.tls.ca_file"
    assert "cannot read" in err.expected


@pytest.mark.parametrize(
    ("legacy", "said"),
    [
        ({"target": "http://127.0.0.1:8001", "tls": {"verify": False}}, "is plain HTTP"),
        ({"target": "examples.legacy:app", "tls": {}}, "is an in-process app"),
    ],
)
def test_tls_on_a_backend_without_tls_is_an_error_that_says_so(
    tmp_path: Path, legacy: dict[str, Any], said: str
) -> None:
    err = problem(write(tmp_path, legacy))
    assert err.key == "legacy.tls"
    assert said in err.expected


def test_a_server_hostname_is_a_bare_host_name(tmp_path: Path) -> None:
    err = problem(write(tmp_path, https(server_hostname="https://legacy.internal/")))
    assert err.key == "legacy.tls.server_hostname"


def test_unknown_tls_keys_are_reported(tmp_path: Path) -> None:
    err = problem(write(tmp_path, https(cafile="ca.pem")))
    assert err.key == "legacy.tls.cafile"


def test_strangler_check_reports_tls_problems_without_a_traceback(
    tmp_path: Path, pki: PKI, capsys: pytest.CaptureFixture[str]
) -> None:
    from strangler.cli import main

    path = write(tmp_path, https(ca_file="missing.pem", client_cert=str(pki.client_cert)))
    code = main(["check", "-c", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert f"{path}: legacy.tls.ca_file: got 'missing.pem'" in err
    assert "legacy.tls.client_key: got None" in err


def test_handshake_problems_are_told_in_words() -> None:
    required = ssl.SSLError(
        1, "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] tlsv13 alert (_ssl.c:2580)"
    )
    required.reason = "TLSV13_ALERT_CERTIFICATE_REQUIRED"  # type: ignore[attr-defined]
    told = handshake_problem(required, backend="new")
    assert told.startswith("TLS handshake failed: tlsv13 alert;")
    assert "new.tls.client_cert" in told
