"""The locust user that replays a scenario.

Imported only in a load child process (locust monkey-patches the process with gevent) and
copied, as source, into the standalone locustfiles ``strangler load --write-locustfile``
writes; so it imports nothing but locust and the standard library.

A request counts as failed when the target gave no answer (connection error, timeout), or
answered 5xx or 429: 4xx answers are the application's answers and are counted per status.
"""

from __future__ import annotations

import base64
import itertools
import random
from collections.abc import Callable, Mapping
from typing import Any

from locust import FastHttpUser, constant, task

FAILED_STATUSES = frozenset({0, 429})

#: How a user trusts an https:// target: locust's ``insecure`` flag and an SSLContext factory.
TLSChoice = tuple[bool, Callable[..., Any]]


def is_failure(status: int) -> bool:
    """True when a status means the target did not cope (no answer, 5xx, 429)."""
    return status >= 500 or status in FAILED_STATUSES


def _no_answer(response: Any) -> str:
    """Why a request got no answer, as locust saw it (refused, TLS, timeout)."""
    error = getattr(response, "error", None)
    return f"no answer ({type(error).__name__}: {error})" if error else "no answer"


def make_user_class(
    scenario: dict[str, Any],
    *,
    think_time: float = 0.0,
    request_timeout: float = 30.0,
    seed: int | None = None,
    tls: Mapping[str, TLSChoice] | None = None,
) -> type[FastHttpUser]:
    """A FastHttpUser class sending the scenario's requests in its route mix.

    ``tls`` maps a target URL to how its certificate is checked; a target not in it gets
    locust's default (no check at all).
    """
    routes: list[tuple[str, list[tuple[str, str, dict[str, str], bytes | None]]]] = []
    weights: list[float] = []
    for route in scenario["routes"]:
        requests = [
            (
                str(q["method"]),
                str(q["url"]),
                {str(k): str(v) for k, v in q.get("headers", [])},
                base64.b64decode(q.get("body_b64", "")) or None,
            )
            for q in route["requests"]
        ]
        if requests and float(route["weight"]) > 0:
            routes.append((str(route["route"]), requests))
            weights.append(float(route["weight"]))
    if not routes:
        raise ValueError("the scenario has no route with requests")
    cumulative = list(itertools.accumulate(weights))
    counter = itertools.count()

    class ScenarioUser(FastHttpUser):
        wait_time = constant(think_time)
        network_timeout = request_timeout
        connection_timeout = request_timeout
        # The stats are per route; locust's own "failed if >= 400" rule is replaced below.

        def __init__(self, environment: Any) -> None:
            choice = tls.get(self.host or "") if tls else None
            if choice is not None:  # read by FastHttpUser.__init__ when it makes the client
                self.insecure, self.ssl_context_factory = choice
            super().__init__(environment)

        def on_start(self) -> None:
            index = next(counter)
            self._rng = random.Random(None if seed is None else seed * 100_003 + index)

        @task
        def replay(self) -> None:
            name, requests = self._rng.choices(routes, cum_weights=cumulative)[0]
            method, url, headers, body = self._rng.choice(requests)
            with self.client.request(
                method,
                url,
                name=name,
                headers=headers or None,
                data=body,  # type: ignore[arg-type]  # bytes are sent as they are
                catch_response=True,
                allow_redirects=False,
            ) as response:
                status = int(response.status_code or 0)
                if is_failure(status):
                    response.failure(f"HTTP {status}" if status else _no_answer(response))
                else:
                    response.success()

    return ScenarioUser
