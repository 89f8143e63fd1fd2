"""The demo end to end, as a user runs it: every step, then Ctrl-C stops everything."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _reader(proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.put(line)
    lines.put(None)


def _read_until(
    lines: queue.Queue[str | None], marker: str, seen: list[str], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            raise AssertionError(f"the demo ended before {marker!r}:\n{''.join(seen)}")
        seen.append(line)
        if marker in line:
            return
    raise AssertionError(f"no {marker!r} within {timeout:.0f} s:\n{''.join(seen)}")


@pytest.mark.slow
def test_the_demo_tells_the_whole_story_and_cleans_up(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "examples.demo", "--keep-running", "--out", str(out),
         "--load-duration", "3s"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_reader, args=(proc, lines), daemon=True).start()
    seen: list[str] = []
    try:
        _read_until(lines, "press Ctrl-C", seen, timeout=240)
        text = "".join(seen)
        urls = dict(re.findall(r"^  (legacy|new|proxy)\s+(http://127\.0\.0\.1:\d+)$", text, re.M))
        assert set(urls) >= {"legacy", "new"}, text
        # --keep-running: the stack still answers, through the proxy too
        entry = urls.get("proxy", urls["legacy"])
        assert httpx.get(f"{entry}/orgs?limit=1", timeout=30).status_code == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
        while (line := lines.get(timeout=10)) is not None:
            seen.append(line)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
    text = "".join(seen)
    flat = " ".join(text.split())  # rich wraps long lines at the pipe's width
    assert "120 organisations, 606 forms, 2,400 orders" in flat
    assert "payments taken once: 5 orders, 10 payment attempts" in flat
    assert "5 payments in legacy's T_PAY" in flat
    assert "demo failed" not in text
    # a caveat printed on the way (a forced flip, a failed gate) shows in the final table
    # (`strangler load` prints notes of its own: a route of weight 0 gets no load)
    caveats = [n for n in re.findall(r"^note: (.*)$", text, re.M) if "no load" not in n]
    assert bool(caveats) == ("done, with a caveat" in flat), caveats
    assert "Traceback" not in text
    assert "all processes stopped, temporary files removed" in text
    work = Path(re.search(r"working in (\S+)", text).group(1))  # type: ignore[union-attr]
    assert not work.exists()
    for url in urls.values():
        with pytest.raises(httpx.TransportError):
            httpx.get(url, timeout=5)
    assert (out / "legacy.log").exists()
    assert (out / "new.log").exists()
    # Every step ran and proved its point.
    for proof in [
        "every mapping copied and verified clean",
        "the new database has legacy's latest orders and payments",
        "refused, with its reasons",
        "every user stayed on one side for all their requests (sticky)",
        "the proxy discovered 3 endpoints nobody declared: GET /orgs/{org}/stats, "
        "GET /receipts/{receipt_id}, GET /reports/daily/{daily_date}",
    ]:
        assert proof in flat, proof
    for report in ("load-report.html", "shadow-report.html"):
        assert (out / report).stat().st_size > 1000, report
