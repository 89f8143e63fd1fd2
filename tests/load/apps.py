"""Small ASGI backends for the load tests: a delay and a status per path prefix."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Backend:
    """Answers every request; ``delays``/``statuses`` by path prefix; counts hits per path."""

    delays: dict[str, float] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    methods: Counter[str] = field(default_factory=Counter)

    def _pick(self, table: dict[str, Any], path: str, default: Any) -> Any:
        for prefix, value in table.items():
            if path.startswith(prefix):
                return value
        return default

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path = scope["path"]
        self.hits[path] += 1
        self.methods[scope["method"]] += 1
        delay = self._pick(self.delays, path, 0.0)
        if delay:
            await asyncio.sleep(delay)
        status = self._pick(self.statuses, path, 200)
        body = b'{"ok": true}'
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})
