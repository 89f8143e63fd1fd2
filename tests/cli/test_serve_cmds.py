"""``strangler serve`` refuses to start, in one line, when it cannot run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import free_port, start_server
from tests.proxy.sides import SideApp

Run = Callable[..., tuple[int, str, str]]


def test_serve_with_a_bad_config_is_one_line_exit_2(tmp_path: Path, run: Run) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("legacy: http://127.0.0.1:1\nnew: http://127.0.0.1:2\nroutes: 5\n")
    code, out, err = run("serve", "-c", str(bad))
    assert code == 2
    assert out == ""
    assert err.strip().splitlines() == [f"error: {bad}: routes: got 5, expected a valid tuple"]


def test_serve_with_an_unreachable_store_refuses_to_start(tmp_path: Path, run: Run) -> None:
    cfg = tmp_path / "strangler.yaml"
    cfg.write_text(
        "legacy: http://127.0.0.1:1\nnew: http://127.0.0.1:2\n"
        "store: postgresql+psycopg://strangler@127.0.0.1:1/nowhere\n"
    )
    code, out, err = run("serve", "-c", str(cfg))
    assert code == 1
    assert out == ""  # nothing served, no banner
    assert err.startswith("error: store postgresql+psycopg://strangler@127.0.0.1:1/nowhere")
    assert "Traceback" not in err


def test_serve_rejects_an_unknown_log_level(config_file: Path, run: Run) -> None:
    code, _, err = run("serve", "-c", str(config_file), "--log-level", "loud")
    assert code == 2
    assert "--log-level" in err
    assert "'loud'; use one of critical, error, warning, info, debug, trace" in err


def test_serve_on_a_busy_port_refuses_before_starting_anything(config_file: Path, run: Run) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        code, out, err = run("serve", "-c", str(config_file), "--port", str(port))
    assert code == 1
    assert out == ""  # no banner, no route table: nothing started
    assert err.strip().splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port} (Address already in use): another "
        "process uses it; stop it, or choose another --port/--host"
    ]


def test_serve_on_an_address_of_another_machine_refuses_before_starting_anything(
    config_file: Path, run: Run
) -> None:
    code, out, err = run("serve", "-c", str(config_file), "--host", "192.0.2.1", "--port", "8000")
    assert code == 1
    assert out == ""
    assert err.strip().splitlines() == [
        "error: cannot listen on 192.0.2.1:8000 (Cannot assign requested address): choose "
        "another --host/--port"
    ]


def test_serve_access_log_is_one_line_per_request_without_secrets(tmp_path: Path) -> None:
    backend = start_server(SideApp("legacy"))
    port, admin_port = free_port(), free_port()
    cfg = tmp_path / "strangler.yaml"
    cfg.write_text(
        f"legacy: {backend.url}\nnew: {backend.url}\nstore: sqlite:///store.db\n"
        f"admin: {{port: {admin_port}}}\n"
        "rules: {redact: {fields: [session_ref]}}\n",
        encoding="utf-8",
    )
    command = [sys.executable, "-m", "strangler", "serve", "-c", str(cfg)]
    proc = subprocess.Popen(
        [*command, "--port", str(port), "--access-log"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "250"},
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/metrics-not-here", timeout=1)  # any answer: serving
                break
            except httpx.TransportError:
                assert proc.poll() is None, "serve stopped"
                assert time.monotonic() < deadline, "serve did not start"
                time.sleep(0.1)
        secret = "/echo/acme?token=t0p-s3cret&page=2&session_ref=abc-77&card=4111111111111111"
        resp = httpx.get(url + secret, headers={"Authorization": "Bearer b3arer"}, timeout=10)
        assert resp.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30)
        backend.stop()
    lines = [line for line in output.splitlines() if '"GET /echo/acme' in line]
    assert len(lines) == 1, output
    line = lines[0]
    assert "page=2" in line
    assert line.count("%5BREDACTED%5D") == 3, line
    for leaked in ("t0p-s3cret", "abc-77", "4111111111111111", "b3arer"):
        assert leaked not in output
    assert line.rstrip().endswith("200 OK"), line
