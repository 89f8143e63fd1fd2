"""Ports on 127.0.0.1 for the benchmarks' own servers."""

from __future__ import annotations

import socket
import time

__all__ = ["ANSWER_SERVER", "free_port", "wait_port"]

#: A trivial HTTP server for ``python -c ANSWER_SERVER PORT SECONDS [WORK]``: a fixed 200
#: from a bare asyncio protocol, after WORK loop steps of CPU per request (default 0), so
#: the machine's load shows in its latency when WORK is set.
ANSWER_SERVER = r"""
import asyncio, sys
WORK = int(sys.argv[3]) if len(sys.argv) > 3 else 0
RESPONSE = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok"

class Answer(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""
    def data_received(self, data):
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            _, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            total = 0
            for i in range(WORK):
                total += i
            self.transport.write(RESPONSE)

async def main(port, seconds):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Answer, "127.0.0.1", port)
    print("ready", flush=True)
    await asyncio.sleep(seconds)
    server.close()

asyncio.run(main(int(sys.argv[1]), float(sys.argv[2])))
"""


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0) -> None:
    """Return once something accepts connections on ``port``; RuntimeError after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listening on 127.0.0.1:{port}")
