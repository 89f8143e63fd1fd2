"""What auth bridging costs: CPU per request of a cached translation, exchange round trips.

1. In process, one core: a request of an auth domain whose credential legacy issued goes
   to new; the proxy reads the credential, finds its translation in the cache and rewrites
   the header. Timed per request against the same request on a route of no domain
   (target: at most 5 µs added).
2. Through a real proxy (uvicorn) to the rewrite's token-exchange endpoint: 1,000 requests
   carrying 10 distinct credentials; the exchange must be called once per credential per
   TTL (target: 10 round trips).

    python -m bench.bench_auth --requests 1000 --credentials 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from typing import Any

import httpx

from strangler.config import parse_config
from strangler.proxy import Proxy
from strangler.routing import Decision
from tests.auth import apps
from tests.conftest import start_server

ADDED_TARGET_US = 5.0


def _config(legacy: str, new: str, to_new: dict[str, Any]) -> Any:
    return parse_config(
        {
            "legacy": legacy,
            "new": new,
            "routes": [{"route": "GET /api/me", "mode": "new"}],
            "auth": {
                "domains": [
                    {
                        "name": "users",
                        "routes": ["GET /api/me"],
                        "credential": "header:Authorization",
                        "to_new": to_new,
                    }
                ]
            },
        },
        source=os.path.join(os.getcwd(), "bench.yaml"),
    )


def cached_cost(rounds: int) -> dict[str, float]:
    """µs per request of read + place with a cached translation (one core)."""
    cfg = _config(
        "http://127.0.0.1:9", "http://127.0.0.1:10", {"hook": "tests.auth.bridge:legacy_to_new"}
    )
    proxy = Proxy(cfg)
    assert proxy.auth is not None
    domain = proxy.auth.domain_for("GET /api/me")
    assert domain is not None
    headers = [
        (b"host", b"127.0.0.1"),
        (b"accept", b"application/json"),
        (b"authorization", f"Bearer {apps.legacy_token('ada')}".encode()),
        (b"user-agent", b"bench"),
    ]
    decision = Decision("new")

    async def run() -> float:
        presented = domain.credential.read(headers)
        assert presented is not None
        await domain.place(decision, "new", presented, headers)  # fills the cache
        cpu0 = time.thread_time()
        for _ in range(rounds):
            seen = domain.credential.read(headers)
            assert seen is not None
            placed = await domain.place(decision, "new", seen, headers)
        assert placed.headers is not None
        return (time.thread_time() - cpu0) / rounds * 1e6

    async def baseline() -> float:
        # What a route outside any domain pays: one dict lookup that finds nothing.
        auth = proxy.auth
        assert auth is not None
        cpu0 = time.thread_time()
        for _ in range(rounds):
            auth.domain_for("GET /elsewhere")
        return (time.thread_time() - cpu0) / rounds * 1e6

    per = asyncio.run(run())
    base = asyncio.run(baseline())
    return {"cached_translation_us": round(per, 3), "no_domain_us": round(base, 3)}


def exchange_round_trips(requests: int, credentials: int) -> dict[str, int]:
    legacy = start_server(apps.build("legacy"))
    new_app = apps.build("new")
    new = start_server(new_app)
    os.environ["BENCH_EXCHANGE_SECRET"] = "exchange-secret"
    cfg = _config(
        legacy.url,
        new.url,
        {"exchange": {"url": f"{new.url}/token-exchange", "secret_env": "BENCH_EXCHANGE_SECRET"}},
    )
    proxy = start_server(Proxy(cfg))
    users = [f"user{i}" for i in range(credentials)]
    ok = 0
    try:
        with httpx.Client(base_url=proxy.url, timeout=10) as client:
            for n in range(requests):
                token = apps.legacy_token(users[n % credentials])
                resp = client.get("/api/me", headers={"authorization": f"Bearer {token}"})
                ok += resp.status_code == 200
    finally:
        for server in (proxy, new, legacy):
            server.stop()
    return {"requests": requests, "ok": ok, "exchanges": len(new_app.state.exchanges)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--credentials", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=200_000, help="in-process iterations")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    cost = cached_cost(args.rounds)
    trips = exchange_round_trips(args.requests, args.credentials)
    added = cost["cached_translation_us"] - cost["no_domain_us"]
    ok_cpu = added <= ADDED_TARGET_US
    ok_trips = trips["exchanges"] == args.credentials and trips["ok"] == args.requests
    print(
        f"cached translation: {cost['cached_translation_us']:.2f} µs per request "
        f"(a route of no domain: {cost['no_domain_us']:.2f} µs; added {added:.2f} µs, "
        f"target at most {ADDED_TARGET_US} µs: {'ok' if ok_cpu else 'MISSED'})"
    )
    print(
        f"exchange: {trips['exchanges']} round trips for {trips['requests']} requests with "
        f"{args.credentials} credentials, {trips['ok']} answered 200 "
        f"(target {args.credentials}: {'ok' if ok_trips else 'MISSED'})"
    )
    print(f"load average (1 min): {load:.2f}")
    print(json.dumps({"bench": "auth", **cost, **trips, "load_average_1m": round(load, 2)}))
    return 0 if ok_cpu and ok_trips else 1


if __name__ == "__main__":
    sys.exit(main())
