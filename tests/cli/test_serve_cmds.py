"""``strangler serve`` refuses to start, in one line, when it cannot run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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
