"""Realistic traffic for the example API: browsing, searching, ordering and paying.

The request mix comes from real keys of the legacy database; users are ``X-User-Id``
values (what keeps a user on one side of a canary). Paying sends the same
``Idempotency-Key`` twice, as a client retrying after a timeout would::

    >>> catalogue = load_catalogue("legacy.db")                        # doctest: +SKIP
    >>> summary = send_traffic("http://127.0.0.1:8000", catalogue, requests=200)
    >>> summary.failed
    0
"""

from __future__ import annotations

import random
import sqlite3
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

__all__ = [
    "UNDECLARED",
    "Catalogue",
    "TrafficSummary",
    "load_catalogue",
    "send_traffic",
    "send_undeclared",
]


@dataclass(frozen=True, slots=True)
class Catalogue:
    """Keys that exist in the legacy database (soft-deleted ones excluded)."""

    orgs: tuple[str, ...]
    forms: tuple[tuple[str, str], ...]
    orders: tuple[str, ...]
    payments: tuple[str, ...]


@dataclass
class TrafficSummary:
    """Requests sent, by route and status; ``failed`` counts transport errors and 5xx."""

    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    failed: int = 0
    orders_created: int = 0
    payment_attempts: int = 0
    payments_taken: int = 0

    @property
    def total(self) -> int:
        return sum(self.statuses.values()) + self.failed

    def by_route(self) -> dict[str, Counter[int]]:
        out: dict[str, Counter[int]] = {}
        for (route, status), n in sorted(self.statuses.items()):
            out.setdefault(route, Counter())[status] += n
        return out


def load_catalogue(db: str | Path) -> Catalogue:
    with sqlite3.connect(db) as conn:
        orgs = [r[0] for r in conn.execute("SELECT ORG_SLUG FROM T_ORG WHERE DEL_FLG = 'N'")]
        forms = conn.execute(
            "SELECT G.ORG_SLUG, F.FRM_SLUG FROM T_FRM F JOIN T_ORG G ON G.ORG_ID = F.ORG_ID"
            " WHERE F.DEL_FLG = 'N' AND G.DEL_FLG = 'N'"
        ).fetchall()
        orders = [r[0] for r in conn.execute("SELECT ORD_REF FROM T_ORD WHERE DEL_FLG = 'N'")]
        payments = [r[0] for r in conn.execute("SELECT PAY_REF FROM T_PAY")]
    return Catalogue(tuple(orgs), tuple(map(tuple, forms)), tuple(orders), tuple(payments))


Request = tuple[str, str, str]  # route key, method, path

WORDS = ("du", "ma", "le", "martin", "nguyen", "lea", "paul", "example")


def _reads(cat: Catalogue, rng: random.Random) -> list[tuple[float, Callable[[], Request]]]:
    def org() -> str:
        return rng.choice(cat.orgs)

    return [
        (2, lambda: ("GET /orgs", "GET", f"/orgs?limit={rng.choice((10, 20, 50))}")),
        (3, lambda: ("GET /orgs/{slug}", "GET", f"/orgs/{org()}")),
        (2, lambda: ("GET /orgs/{slug}/forms", "GET", f"/orgs/{org()}/forms")),
        (
            2,
            lambda: (
                "GET /orgs/{slug}/forms/{form}",
                "GET",
                "/orgs/{}/forms/{}".format(*rng.choice(cat.forms)),
            ),
        ),
        (
            2,
            lambda: (
                "GET /orgs/{slug}/orders",
                "GET",
                f"/orgs/{org()}/orders?q={rng.choice(WORDS)}",
            ),
        ),
        (3, lambda: ("GET /orders/{ref}", "GET", f"/orders/{rng.choice(cat.orders)}")),
        (2, lambda: ("GET /payments/{ref}", "GET", f"/payments/{rng.choice(cat.payments)}")),
    ]


def send_traffic(
    base_url: str,
    catalogue: Catalogue,
    *,
    requests: int = 300,
    purchases: int = 5,
    seed: int = 1,
    concurrency: int = 8,
    users: int = 50,
    timeout: float = 30.0,
) -> TrafficSummary:
    """Send ``requests`` reads and ``purchases`` order-then-pay flows to ``base_url``."""
    rng = random.Random(seed)
    kinds = _reads(catalogue, rng)
    weights = [w for w, _ in kinds]
    plan = [
        (f"u-{rng.randrange(users)}", rng.choices(kinds, weights)[0][1]()) for _ in range(requests)
    ]
    summary = TrafficSummary()

    with httpx.Client(base_url=base_url, timeout=timeout) as client:

        def one(item: tuple[str, Request]) -> tuple[str, int]:
            user, (route, method, path) = item
            try:
                answer = client.request(method, path, headers={"X-User-Id": user})
            except httpx.TransportError:
                return route, -1
            return route, answer.status_code

        with ThreadPoolExecutor(concurrency) as pool:
            for route, status in pool.map(one, plan):
                _count(summary, route, status)
        for i in range(purchases):
            _purchase(client, catalogue, rng, summary, user=f"u-{i}")
    return summary


#: Legacy's endpoints that examples/strangler.yaml does not declare (they fall to the
#: catch-all), as a person would write them, and their weight in ``send_undeclared``.
UNDECLARED = {
    "GET /orgs/{slug}/stats": 3,
    "GET /receipts/{id}": 2,
    "GET /reports/daily/{day}": 1,
}


def send_undeclared(
    base_url: str, catalogue: Catalogue, *, requests: int = 120, seed: int = 2
) -> TrafficSummary:
    """Send ``requests`` GETs to legacy's endpoints nobody declared (:data:`UNDECLARED`):
    an organisation's statistics, a receipt by payment id, a daily report."""
    rng = random.Random(seed)
    paths = {
        "GET /orgs/{slug}/stats": lambda: f"/orgs/{rng.choice(catalogue.orgs)}/stats",
        "GET /receipts/{id}": lambda: f"/receipts/{int(rng.choice(catalogue.payments)[4:])}",
        "GET /reports/daily/{day}": lambda: (
            f"/reports/daily/2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
        ),
    }
    routes = rng.choices(list(UNDECLARED), list(UNDECLARED.values()), k=requests)
    summary = TrafficSummary()
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for route in routes:
            try:
                status = client.get(paths[route](), headers={"X-User-Id": "u-0"}).status_code
            except httpx.TransportError:
                status = -1
            _count(summary, route, status)
    return summary


def _count(summary: TrafficSummary, route: str, status: int) -> None:
    if status < 0 or status >= 500:
        summary.failed += 1
    else:
        summary.statuses[(route, status)] += 1


def _purchase(
    client: httpx.Client,
    cat: Catalogue,
    rng: random.Random,
    summary: TrafficSummary,
    *,
    user: str,
) -> None:
    org, form = rng.choice(cat.forms)
    amount = rng.choice(("10.00", "25.00", "37.50", "50.00"))
    body = {"payer_name": "Zoë Martin", "payer_email": "zoe@example.org", "amount": amount}
    headers = {"X-User-Id": user}
    try:
        created = client.post(f"/orgs/{org}/forms/{form}/orders", json=body, headers=headers)
    except httpx.TransportError:
        summary.failed += 1
        return
    _count(summary, "POST /orgs/{slug}/forms/{form}/orders", created.status_code)
    if created.status_code != 201:
        return
    summary.orders_created += 1
    pay = {"order": created.json()["reference"], "amount": amount}
    key = str(uuid.uuid4())
    for _attempt in range(2):  # the client retries: the payment must be taken once
        summary.payment_attempts += 1
        try:
            answer = client.post("/payments", json=pay, headers={**headers, "Idempotency-Key": key})
        except httpx.TransportError:
            summary.failed += 1
            continue
        _count(summary, "POST /payments", answer.status_code)
        summary.payments_taken += answer.status_code == 201
