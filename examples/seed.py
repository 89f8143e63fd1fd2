"""Create and seed the legacy database with realistic, deterministic data.

``python -m examples.seed legacy.db`` writes about 120 organisations, 600 forms, 2,400
orders and 1,800 payments in well under a second; the same ``--seed`` always gives the
same rows::

    >>> counts = seed("legacy.db", seed=7)   # doctest: +SKIP
    >>> counts["T_ORG"]
    120
"""

from __future__ import annotations

import argparse
import random
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from examples.legacy.schema import (
    cents_text,
    connect,
    create_schema,
    legacy_fee_cents,
    local_text,
    stamp_text,
)

__all__ = ["SeedSummary", "main", "seed", "slugify"]

ORG_PREFIXES = (
    "Association", "Fondation", "Les Amis de", "Collectif", "Club", "Maison de",
    "Secours", "Hope", "Together for", "Friends of",
)  # fmt: skip
ORG_SUBJECTS = (
    "la Forêt", "l'Océan", "Quartier Nord", "la Musique", "Lecture pour Tous", "Montagne",
    "Refuge Animal", "Solidarité Hiver", "Jardins Partagés", "Handisport", "Patrimoine",
    "Théâtre Jeune", "Sans Frontières", "Vélo Libre", "Enfance", "Santé Mentale",
)  # fmt: skip
COUNTRIES = ("FR", "FR", "FR", "FR", "BE", "CH", "LU", "CA")
FORM_KINDS = (
    ("DON", "Don libre", "don-libre"),
    ("DON", "Urgence hiver", "urgence-hiver"),
    ("DON", "Parrainage", "parrainage"),
    ("MBR", "Adhésion 2026", "adhesion-2026"),
    ("MBR", "Adhésion bienfaiteur", "adhesion-bienfaiteur"),
    ("TKT", "Gala de printemps", "gala-printemps"),
    ("TKT", "Concert solidaire", "concert-solidaire"),
    ("TKT", "Course caritative", "course-caritative"),
    ("DON", "Rénovation du local", "renovation-local"),
)
FIRST = (
    "Hélène", "François", "Zoë", "Marie", "Jean", "Luc", "Amina", "Chloé", "Noah", "Léa",
    "Karim", "Sofia", "Paul", "Inès", "Hugo", "Camille", "Yann", "Élodie", "Tom", "Nora",
)  # fmt: skip
LAST = (
    "Dupont", "Martin", "Bernard", "Petit", "Durand", "Leroy", "Moreau", "Lefèvre", "Garcia",
    "Nguyen", "Rousseau", "Fontaine", "Chevalier", "Mercier", "Blanc", "Diallo",
)  # fmt: skip
DONATIONS = (
    500,
    1000,
    1250,
    1500,
    1750,
    2000,
    2500,
    2750,
    3750,
    5000,
    6250,
    7500,
    10000,
    12500,
    25000,
)


@dataclass(frozen=True, slots=True)
class SeedSummary:
    """What :func:`seed` wrote: rows per legacy table."""

    path: Path
    orgs: int
    forms: int
    orders: int
    payments: int


def slugify(text: str) -> str:
    """``"Les Amis de l'Océan" -> 'les-amis-de-l-ocean'``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def _spread(rng: random.Random, start: datetime, end: datetime, n: int) -> list[datetime]:
    """``n`` sorted moments between start and end, to the minute (legacy keeps minutes)."""
    span = int((end - start).total_seconds() // 60)
    return [start + timedelta(minutes=m) for m in sorted(rng.randrange(span) for _ in range(n))]


def seed(path: str | Path, *, seed: int = 7, orgs: int = 120, orders: int = 2400) -> SeedSummary:
    """Create the legacy schema in ``path`` (replacing the file) and fill it."""
    path = Path(path)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    rng = random.Random(seed)
    conn = connect(path)
    create_schema(conn)
    t0 = datetime(2023, 1, 9, 8, 0, tzinfo=UTC)
    org_rows: list[tuple[Any, ...]] = []
    form_rows: list[list[Any]] = []
    form_prices: list[int] = []
    org_times = _spread(rng, t0, t0 + timedelta(days=365), orgs)
    used: set[str] = set()
    for org_id, created in enumerate(org_times, start=1):
        name = f"{rng.choice(ORG_PREFIXES)} {rng.choice(ORG_SUBJECTS)}"
        if slugify(name) in used:
            name = f"{name} {rng.choice(('Lyon', 'Nantes', 'Lille', 'Genève', 'Liège', 'Québec'))}"
        slug = slugify(name)
        if slug in used:
            slug = f"{slug}-{org_id}"
        used.add(slug)
        deleted = "Y" if rng.random() < 0.04 else "N"
        org_rows.append(
            (
                org_id,
                slug,
                name,
                rng.choice(COUNTRIES),
                local_text(created),
                stamp_text(created),
                deleted,
            )
        )
        for kind, title, fslug in rng.sample(FORM_KINDS, rng.randint(3, 7)):
            form_created = created + timedelta(
                days=rng.randint(1, 300), minutes=rng.randint(0, 1440)
            )
            goal = (
                cents_text(rng.choice((100000, 500000, 1500000)))
                if kind == "DON" and rng.random() < 0.6
                else None
            )
            price = rng.choice((1500, 2500, 3000, 4500)) if kind != "DON" else 0
            form_rows.append(
                [
                    0,
                    org_id,
                    fslug,
                    title,
                    kind,
                    goal,
                    form_created,
                    "Y" if rng.random() < 0.05 else "N",
                ]
            )
            form_prices.append(price)
    # Forms get ids in creation order, as the legacy app inserted them.
    order = sorted(range(len(form_rows)), key=lambda i: (form_rows[i][6], i))
    forms_sorted = []
    prices = []
    for form_id, i in enumerate(order, start=1):
        row = form_rows[i]
        created = row[6]
        forms_sorted.append(
            (
                form_id,
                row[1],
                row[2],
                row[3],
                row[4],
                row[5],
                local_text(created),
                stamp_text(created),
                row[7],
            )
        )
        prices.append(form_prices[i])
    order_rows: list[tuple[Any, ...]] = []
    pay_rows: list[tuple[Any, ...]] = []
    t1 = datetime(2025, 1, 6, 7, 30, tzinfo=UTC)
    for ord_id, created in enumerate(_spread(rng, t1, t1 + timedelta(days=660), orders), start=1):
        fidx = rng.randrange(len(forms_sorted))
        form = forms_sorted[fidx]
        if form[4] == "DON":
            cents = (
                rng.choice(DONATIONS)
                if rng.random() < 0.8
                else rng.randint(3, 400) * 100 + rng.choice((0, 50, 99))
            )
        else:
            cents = prices[fidx] * (rng.randint(1, 4) if form[4] == "TKT" else 1)
        status = rng.choices("CPRX", weights=(72, 18, 5, 5))[0]
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{slugify(first)}.{slugify(last)}{rng.randint(1, 99)}@example.org"
        ref = f"ORD-{ord_id:06d}"
        order_rows.append(
            (ord_id, form[0], ref, f"{first} {last}", email, cents_text(cents), status,
             local_text(created), stamp_text(created), "Y" if rng.random() < 0.03 else "N")
        )  # fmt: skip
        if status in "CR":
            taken = created + timedelta(minutes=rng.randint(1, 30))
            pay_id = len(pay_rows) + 1
            pay_rows.append(
                (pay_id, ord_id, f"PAY-{pay_id:06d}", cents_text(cents),
                 cents_text(legacy_fee_cents(cents)), f"seed-{seed}-{ord_id}",
                 "S" if status == "C" else "R", local_text(taken), stamp_text(taken))
            )  # fmt: skip
    with conn:
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO T_ORG VALUES (?, ?, ?, ?, ?, ?, ?)", org_rows)
        conn.executemany("INSERT INTO T_FRM VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", forms_sorted)
        conn.executemany("INSERT INTO T_ORD VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", order_rows)
        conn.executemany("INSERT INTO T_PAY VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", pay_rows)
        conn.execute("COMMIT")
    conn.close()
    return SeedSummary(path, len(org_rows), len(forms_sorted), len(order_rows), len(pay_rows))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m examples.seed", description=__doc__.split("\n")[0]
    )
    parser.add_argument("db", help="the legacy SQLite file to create (replaced if it exists)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--orgs", type=int, default=120)
    parser.add_argument("--orders", type=int, default=2400)
    args = parser.parse_args(argv)
    s = seed(args.db, seed=args.seed, orgs=args.orgs, orders=args.orders)
    print(
        f"{s.path}: {s.orgs} organisations, {s.forms} forms, {s.orders} orders, {s.payments} payments"
    )


if __name__ == "__main__":
    main()
