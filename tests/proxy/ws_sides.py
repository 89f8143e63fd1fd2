"""WebSocket test apps for the two sides: Starlette apps that tag every message with their side.

- ``/ws/private``: refuses the handshake with ``401 login first`` unless an
  ``Authorization`` header came (the denial goes through uvicorn's
  ``websocket.http.response`` extension)
- ``/ws/moved``: refuses the handshake with ``307`` to ``/ws/echo`` on its own URL (the
  absolute URL a framework builds from the ``Host`` it got)
- ``/ws/{anything}``: accepts, choosing ``chat.v2`` or else ``chat.v1`` if the client
  offered it, and sets a cookie in its handshake answer; then echoes each text message as
  ``"<side>:<text>"`` and each binary one as ``b"<side>:" + bytes``. The text
  ``"close:<code>:<reason>"`` makes it close with that code and reason.

Each app records the sessions it saw (path, headers, offered subprotocols) and how the
client closed (code, reason), so a test can prove a side was, or was not, called.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

SUBPROTOCOLS = ("chat.v2", "chat.v1")


@dataclass
class Session:
    path: str
    headers: list[tuple[str, str]]
    subprotocols: list[str]

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]


@dataclass
class WsSide:
    """One side's WebSocket app and what it saw."""

    side: str
    sessions: list[Session] = field(default_factory=list)
    client_closes: list[tuple[int, str]] = field(default_factory=list)
    app: Starlette = field(init=False)

    def __post_init__(self) -> None:
        self.app = Starlette(
            routes=[
                WebSocketRoute("/ws/private", self._private),
                WebSocketRoute("/ws/moved", self._moved),
                WebSocketRoute("/ws/{rest:path}", self._echo),
            ]
        )

    def _record(self, ws: WebSocket) -> None:
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in ws.scope["headers"]]
        self.sessions.append(Session(ws.scope["path"], headers, list(ws.scope["subprotocols"])))

    async def _private(self, ws: WebSocket) -> None:
        self._record(ws)
        if "authorization" not in ws.headers:
            await ws.send_denial_response(PlainTextResponse("login first", status_code=401))
            return
        await self._echo_after_accept(ws, None)

    async def _moved(self, ws: WebSocket) -> None:
        self._record(ws)
        host, port = ws.scope["server"]
        moved = PlainTextResponse("moved", status_code=307)
        moved.headers["location"] = f"http://{host}:{port}/ws/echo"
        await ws.send_denial_response(moved)

    async def _echo(self, ws: WebSocket) -> None:
        self._record(ws)
        offered = ws.scope["subprotocols"]
        chosen = next((p for p in SUBPROTOCOLS if p in offered), None)
        await self._echo_after_accept(ws, chosen)

    async def _echo_after_accept(self, ws: WebSocket, subprotocol: str | None) -> None:
        await ws.accept(subprotocol=subprotocol, headers=[(b"set-cookie", b"ws=1")])
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                self.client_closes.append((message.get("code", 1000), message.get("reason", "")))
                return
            text = message.get("text")
            if text is None:
                await ws.send_bytes(self.side.encode() + b":" + message["bytes"])
            elif text.startswith("close:"):
                _, code, reason = text.split(":", 2)
                await ws.close(int(code), reason)
                return
            else:
                await ws.send_text(f"{self.side}:{text}")


# In-process backends, named by "module:attr" in the config.
inprocess_legacy = WsSide("legacy-inprocess")
inprocess_legacy_app = inprocess_legacy.app
