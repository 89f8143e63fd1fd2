"""``strangler record --listen`` and ``strangler parity`` end to end."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from shadow.corpus import read_corpus, write_corpus
from strangler.cli import main
from tests.conftest import free_port
from tests.parity.conftest import ORGS, Pair, get, write_config


def _send_when_up(url: str, paths: list[str], errors: list[BaseException]) -> None:
    deadline = time.monotonic() + 20
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            while True:
                try:
                    client.get("/orgs/warmup")
                    break
                except httpx.TransportError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            for path in paths:
                client.get(path)
    except BaseException as exc:
        errors.append(exc)


def test_record_listen_stops_by_itself_and_writes_the_corpus(
    pair: Pair, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path / "strangler.yaml", pair)
    out = tmp_path / "corpus.jsonl"
    port = free_port()
    errors: list[BaseException] = []
    client = threading.Thread(
        target=_send_when_up,
        args=(f"http://127.0.0.1:{port}", ["/orgs/a", "/orgs/b"], errors),
    )
    client.start()
    code = main(
        [
            "record",
            "-c",
            str(config),
            "--listen",
            f"127.0.0.1:{port}",
            "--max-exchanges",
            "3",
            "--duration",
            "30s",
            "--out",
            str(out),
        ]
    )
    client.join(timeout=20)
    assert errors == []
    assert code == 0
    assert f"wrote 3 entries to {out}" in capsys.readouterr().out
    assert sorted(r.path for r, _ in read_corpus(out)) == ["/orgs/a", "/orgs/b", "/orgs/warmup"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "expected exactly one of them"),
        (["--listen", "nowhere"], "expected HOST:PORT"),
        (["--listen", "127.0.0.1:1", "--duration", "soon"], "--duration: got 'soon'"),
    ],
)
def test_record_usage_errors(
    pair: Pair,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    config = write_config(tmp_path / "strangler.yaml", pair)
    code = main(["record", "-c", str(config), "--out", str(tmp_path / "c.jsonl"), *args])
    assert code == 2
    assert message in capsys.readouterr().err


def test_parity_command_exit_codes_follow_the_route_modes(
    pair: Pair, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = tmp_path / "corpus.jsonl"
    write_corpus(corpus, [get("/orgs/acme", ORGS), get("/orgs/broken", ORGS)])
    md = tmp_path / "parity.md"
    shadow_cfg = write_config(tmp_path / "shadow.yaml", pair, orgs_mode="shadow")
    args = ["parity", "--corpus", str(corpus), "--report-md", str(md)]
    assert main([*args, "-c", str(shadow_cfg)]) == 0
    assert main([*args, "-c", str(shadow_cfg), "--strict"]) == 1
    canary_cfg = write_config(tmp_path / "canary.yaml", pair, orgs_mode="canary")
    assert main([*args, "-c", str(canary_cfg)]) == 1
    assert "**Fails the build:** `GET /orgs/{slug}` (canary)" in md.read_text()
    out = capsys.readouterr().out
    assert '$.plan  "pro"   "free"' in out


def test_record_from_the_store_takes_the_same_durations_as_report() -> None:
    from parity_tests.cli import _duration

    assert _duration("2d", "--since") == 172_800
    assert _duration("1h30m", "--since") == 5_400
    assert _duration("90", "--since") == 90
