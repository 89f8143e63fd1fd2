"""Two implementations of one small API that do not accept each other's credentials.

- legacy signs opaque tokens ``L.<user>.<sig>`` with its own key and keeps server-side
  sessions (cookie ``SESSIONID``, a random id in a dict);
- new issues JWT-like tokens ``<header>.<claims>.<sig>`` with another key, other claims
  (``sub``, ``exp``) and a 10-minute lifetime, and keeps its sessions as signed cookies.

Both answer ``GET /api/me`` and ``GET /api/orders`` with the same JSON for the same user,
and say which side served them in ``x-served-by``. ``bridge.py`` holds the hooks that
translate between them (the kind of code a team writes with access to both keys).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from typing import Any
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

LEGACY_KEY = b"legacy-signing-key"
NEW_KEY = b"new-signing-key-of-the-rewrite"
ORDERS = {"ada": [1, 2], "bob": [3], "cy": []}
SESSIONS: dict[str, str] = {}  # legacy's server-side sessions: id -> user


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def legacy_token(user: str) -> str:
    sig = hmac.new(LEGACY_KEY, user.encode(), hashlib.sha256).hexdigest()[:24]
    return f"L.{user}.{sig}"


def legacy_user(token: str) -> str | None:
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != "L":
        return None
    return parts[1] if hmac.compare_digest(legacy_token(parts[1]), token) else None


def new_token(user: str, lifetime: int = 600) -> str:
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = _b64(json.dumps({"sub": user, "exp": int(time.time()) + lifetime}).encode())
    sig = _b64(hmac.new(NEW_KEY, f"{head}.{claims}".encode(), hashlib.sha256).digest())
    return f"{head}.{claims}.{sig}"


def new_user(token: str) -> str | None:
    try:
        head, claims, sig = token.split(".")
    except ValueError:
        return None
    good = _b64(hmac.new(NEW_KEY, f"{head}.{claims}".encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(good, sig):
        return None
    data = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    return str(data["sub"]) if data["exp"] > time.time() else None


def _bearer(request: Request) -> str:
    value = request.headers.get("authorization", "")
    return value.removeprefix("Bearer ").strip()


def build(side: str, *, differ_for: str | None = None) -> Starlette:
    """The ``side`` ("legacy" or "new") app. ``differ_for``: a user whose orders new gets
    wrong (an injected real difference)."""
    check = legacy_user if side == "legacy" else new_user
    issue = legacy_token if side == "legacy" else new_token
    served = {"x-served-by": side}
    exchanges: list[str] = []

    def who(request: Request) -> str | None:
        token = _bearer(request)
        if token:
            return check(token)
        session = request.cookies.get("SESSIONID")
        if session is None:
            return None
        return SESSIONS.get(session) if side == "legacy" else new_user(session)

    async def login(request: Request) -> Response:
        user = (await request.json())["user"]
        return JSONResponse({"user": user, "token": issue(user)}, headers=served)

    async def session_login(request: Request) -> Response:
        user = (await request.json())["user"]
        if side == "legacy":
            sid = secrets.token_hex(16)
            SESSIONS[sid] = user
        else:
            sid = new_token(user)
        resp = JSONResponse({"user": user}, headers=served)
        resp.set_cookie("SESSIONID", sid, httponly=True)
        return resp

    async def me(request: Request) -> Response:
        user = who(request)
        if user is None:
            return JSONResponse({"error": "unauthorized"}, 401, headers=served)
        return JSONResponse({"user": user, "plan": "free"}, headers=served)

    async def orders(request: Request) -> Response:
        user = who(request)
        if user is None:
            return JSONResponse({"error": "unauthorized"}, 401, headers=served)
        got: list[Any] = list(ORDERS.get(user, []))
        if side == "new" and user == differ_for:
            got = got[:-1]
        return JSONResponse({"user": user, "orders": got}, headers=served)

    async def exchange(request: Request) -> Response:
        """RFC 8693-style: a legacy token in, a new token out (only on new)."""
        if request.headers.get("authorization") != "Bearer exchange-secret":
            return JSONResponse({"error": "invalid_client"}, 401)
        form = parse_qs((await request.body()).decode())
        user = legacy_user(form.get("subject_token", [""])[0])
        if user is None:
            return JSONResponse({"error": "invalid_grant"}, 400)
        exchanges.append(user)
        return JSONResponse({"access_token": new_token(user), "expires_in": 300})

    async def whois(request: Request) -> Response:
        """Legacy's internal endpoint: whose session is this (for the cookie bridge)."""
        user = SESSIONS.get(request.path_params["sid"])
        return JSONResponse({"user": user}, 200 if user else 404)

    app = Starlette(
        routes=[
            Route("/api/login", login, methods=["POST"]),
            Route("/api/session", session_login, methods=["POST"]),
            Route("/api/me", me),
            Route("/api/orders", orders),
            Route("/token-exchange", exchange, methods=["POST"]),
            Route("/internal/sessions/{sid}", whois),
        ]
    )
    app.state.exchanges = exchanges
    return app
