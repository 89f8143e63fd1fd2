"""The demo's processes: legacy, new and the proxy, each a real process on a free port.

Every process is started in its own session with its output in a log file, is asked to
stop (then killed) when the stack closes, and on Linux also dies with its parent, so a
killed demo leaves nothing running::

    >>> with Stack(folder) as stack:                                   # doctest: +SKIP
    ...     legacy = stack.start("legacy", ["-m", "examples.legacy", "--db", "l.db"], port=p)
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

__all__ = ["ROOT", "Process", "Stack", "StackError", "free_port", "python_env"]

ROOT = Path(__file__).resolve().parent.parent


class StackError(RuntimeError):
    """A process of the demo did not start; the message ends with its last log lines."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def python_env(**extra: str) -> dict[str, str]:
    """The environment for child Pythons: the repository importable, wide rich output."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.setdefault("COLUMNS", "120")
    env.update(extra)
    return env


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    os.setsid()
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Process:
    name: str
    url: str
    log: Path
    popen: subprocess.Popen[bytes]

    def tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Stack:
    """Processes started together and stopped together (also on error or Ctrl-C)."""

    folder: Path
    processes: list[Process] = field(default_factory=list)

    def start(
        self,
        name: str,
        args: Sequence[str],
        *,
        port: int,
        probe: str = "/",
        timeout: float = 60.0,
        env: dict[str, str] | None = None,
    ) -> Process:
        """Run ``python ARGS`` and return once ``probe`` answers on ``port`` (any status)."""
        log = self.folder / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                [sys.executable, *args],
                cwd=ROOT,
                env=env or python_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                start_new_session=sys.platform != "linux",
            )
        process = Process(name, f"http://127.0.0.1:{port}", log, popen)
        self.processes.append(process)
        deadline = time.monotonic() + timeout
        while True:
            if popen.poll() is not None:
                raise StackError(f"{name} exited with {popen.returncode}:\n{process.tail()}")
            try:
                httpx.get(process.url + probe, timeout=2)
                return process
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise StackError(
                        f"{name} did not answer within {timeout:.0f} s:\n{process.tail()}"
                    ) from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL after 10 s), newest first."""
        for p in reversed(self.processes):
            if p.popen.poll() is None:
                p.popen.terminate()
        for p in reversed(self.processes):
            try:
                p.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.popen.kill()
                p.popen.wait(timeout=10)
        self.processes.clear()

    def __enter__(self) -> Stack:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
