"""Load against HTTPS backends: locust trusts a backend as the proxy does (its ``tls``
settings), where on its own it would check no certificate at all."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from load.cli import EXIT_GATE_FAILED
from load.run import RunSpec, resolve_target, run_load, trusted_targets
from load.scenario import LoadRequest, RouteLoad, Scenario
from strangler.cli import main
from strangler.config import parse_config
from tests.conftest import LiveServer, free_port
from tests.load.apps import Backend
from tests.pki import PKI, make_pki, serve_https

CLI = "import sys; from strangler.cli import main; sys.exit(main())"
SCENARIO = Scenario((RouteLoad("GET /health", 1.0, (LoadRequest("GET", "/health"),)),))


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _run(legacy: Any, new: Any) -> list[Any]:
    config = parse_config({"legacy": legacy, "new": new})
    targets = (resolve_target(config, "legacy"), resolve_target(config, "new"))
    spec = RunSpec(SCENARIO, targets, users=2, spawn_rate=100, duration=2, request_timeout=10)
    return run_load(spec)


def test_load_trusts_the_private_ca_and_shows_the_client_certificate(
    serve: Callable[..., LiveServer], pki: PKI
) -> None:
    mutual_app, named_app = Backend(), Backend()
    mutual = serve_https(serve, mutual_app, pki, require_client_cert=True)
    named = serve_https(serve, named_app, pki, named=True)  # certificate for legacy.internal
    client = {"client_cert": str(pki.client_cert), "client_key": str(pki.client_key)}
    legacy = {"target": mutual, "tls": {"ca_file": str(pki.ca), **client}}
    new = {"target": named, "tls": {"ca_file": str(pki.ca), "server_hostname": "legacy.internal"}}

    results = _run(legacy, new)

    for result in results:
        assert result.requests > 0, result
        assert result.failures == 0, result.errors
    assert mutual_app.hits["/health"] > 0
    assert named_app.hits["/health"] > 0


def test_load_without_the_ca_fails_every_request_instead_of_trusting_blindly(
    serve: Callable[..., LiveServer], pki: PKI
) -> None:
    untrusted_app, trusted_app = Backend(), Backend()
    untrusted = serve_https(serve, untrusted_app, pki)
    trusted = serve_https(serve, trusted_app, pki)
    [result, control] = _run(untrusted, {"target": trusted, "tls": {"ca_file": str(pki.ca)}})
    assert result.requests > 0
    assert result.failures == result.requests
    assert any("CERTIFICATE_VERIFY_FAILED" in e["error"] for e in result.errors), result.errors
    assert untrusted_app.hits["/health"] == 0
    assert control.requests > 0
    assert control.failures == 0


def test_a_worker_is_given_the_trust_of_both_backends(pki: PKI) -> None:
    config = parse_config(
        {
            "legacy": {"target": "https://legacy.internal", "tls": {"ca_file": str(pki.ca)}},
            "new": "http://127.0.0.1:8002",
        }
    )
    spec = RunSpec(SCENARIO, (), role="worker", trust=trusted_targets(config))
    tls = spec.to_json()["tls"]
    assert list(tls) == ["https://legacy.internal"]
    assert tls["https://legacy.internal"]["ca_file"] == str(pki.ca)


@pytest.mark.slow
def test_a_distributed_run_trusts_the_backends_on_every_worker(
    serve: Callable[..., LiveServer],
    pki: PKI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    legacy_app, new_app = Backend(), Backend()
    client = {"client_cert": str(pki.client_cert), "client_key": str(pki.client_key)}
    data = {
        "legacy": {
            "target": serve_https(serve, legacy_app, pki, require_client_cert=True),
            "tls": {"ca_file": str(pki.ca), **client},
        },
        "new": {"target": serve_https(serve, new_app, pki), "tls": {"ca_file": str(pki.ca)}},
        "store": "sqlite:///store.db",
        "load": {"users": 2, "spawn_rate": 100, "duration": "2s", "min_samples": 10},
        "routes": [{"route": "GET /health"}],
    }
    config = tmp_path / "strangler.yaml"
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    port = str(free_port())
    worker = subprocess.Popen(
        [sys.executable, "-c", CLI, "load", "-c", str(config), "--worker", "--master-port", port],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        master = ["load", "-c", str(config), "--master", "--master-port", port]
        code = main([*master, "--json", "--no-evidence"])
        worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()

    report = json.loads(capsys.readouterr().out)  # a report at all: the run completed
    # (whether the gate passed is beside the point: it compares two backends' speed)
    assert code in (0, EXIT_GATE_FAILED), report
    for result in report["targets"]:
        assert result["requests"] > 0, result
        assert result["failures"] == 0, result
    assert legacy_app.hits["/health"] > 0  # reached over mutual TLS, from the worker
    assert new_app.hits["/health"] > 0
