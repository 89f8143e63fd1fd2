"""The legacy service: a Flask (WSGI) app with hand-written SQL over the legacy schema.

Run it with ``python -m examples.legacy --port 8001 --db legacy.db``, or load it in-process
as ``examples.legacy.app:application`` with the database file in ``EXAMPLES_LEGACY_DB``::

    >>> app = create_app("legacy.db")                    # doctest: +SKIP
    >>> app.test_client().get("/orgs/hope-fr").json["name"]  # doctest: +SKIP
    'Hope France'
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, jsonify, request

from examples.legacy.schema import (
    cents_text,
    connect,
    legacy_fee_cents,
    local_text,
    local_text_to_utc,
    money,
    parse_money,
    stamp_text,
)

__all__ = ["DB_ENV", "application", "create_app"]

DB_ENV = "EXAMPLES_LEGACY_DB"

FORM_TYPES = {"DON": "donation", "MBR": "membership", "TKT": "ticket"}
ORDER_STATUSES = {"P": "pending", "C": "paid", "R": "refunded", "X": "cancelled"}
PAYMENT_STATUSES = {"S": "succeeded", "R": "refunded"}


def _iso(local: str) -> str:
    return local_text_to_utc(local).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _error(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify(error=code, message=message), status


def _int_arg(name: str, default: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 0 <= int(raw) <= high:
        raise _BadArg(f"{name} must be an integer from 0 to {high}, got {raw!r}")
    return int(raw)


class _BadArg(Exception):
    pass


def _org_json(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "slug": row["ORG_SLUG"],
        "name": row["ORG_NM"],
        "country": row["ORG_CTRY_CD"],
        "created_at": _iso(row["ORG_CRT_DT"]),
    }


def _form_json(row: sqlite3.Row) -> dict[str, Any]:
    goal = row["FRM_GOAL_AMT"]
    return {
        "slug": row["FRM_SLUG"],
        "title": row["FRM_TTL"],
        "type": FORM_TYPES[row["FRM_TYP_CD"]],
        "goal": money(goal) if goal else None,
        "created_at": _iso(row["FRM_CRT_DT"]),
    }


def _payment_json(row: sqlite3.Row) -> dict[str, Any]:
    return {
        "reference": row["PAY_REF"],
        "order": row["ORD_REF"],
        "amount": money(row["PAY_AMT"]),
        "fee": money(row["PAY_FEE_AMT"]),
        "status": PAYMENT_STATUSES[row["PAY_STS_CD"]],
        "taken_at": _iso(row["PAY_DT"]),
    }


ORDER_SQL = """
SELECT O.*, F.FRM_SLUG, G.ORG_SLUG FROM T_ORD O
JOIN T_FRM F ON F.FRM_ID = O.FRM_ID JOIN T_ORG G ON G.ORG_ID = F.ORG_ID
WHERE O.ORD_REF = ? AND O.DEL_FLG = 'N'
"""
PAYMENT_SQL = """
SELECT P.*, O.ORD_REF FROM T_PAY P JOIN T_ORD O ON O.ORD_ID = P.ORD_ID
"""


def _order_json(db: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
    amount = int(row["ORD_AMT"])
    fee = legacy_fee_cents(amount)
    payments = db.execute(PAYMENT_SQL + " WHERE P.ORD_ID = ? ORDER BY P.PAY_ID", (row["ORD_ID"],))
    return {
        "reference": row["ORD_REF"],
        "organisation": row["ORG_SLUG"],
        "form": row["FRM_SLUG"],
        "payer_name": row["ORD_PAYR_NM"],
        "payer_email": row["ORD_PAYR_EML"],
        "amount": money(amount),
        "fee": money(fee),
        "net": money(amount - fee),
        "status": ORDER_STATUSES[row["ORD_STS_CD"]],
        "created_at": _iso(row["ORD_CRT_DT"]),
        "payments": [_payment_json(p) for p in payments],
    }


def create_app(db_path: str | Path | None = None) -> Flask:
    """The legacy Flask app on the SQLite file ``db_path`` (default: ``$EXAMPLES_LEGACY_DB``)."""
    app = Flask("examples.legacy")

    def db() -> sqlite3.Connection:
        if "db" not in g:
            path = db_path or os.environ.get(DB_ENV)
            if not path:
                raise RuntimeError(f"set {DB_ENV} to the legacy SQLite file")
            g.db = connect(path)
        conn: sqlite3.Connection = g.db
        return conn

    @app.teardown_appcontext
    def _close(_exc: BaseException | None) -> None:
        conn = g.pop("db", None)
        if conn is not None:
            conn.close()

    @app.errorhandler(_BadArg)
    def _bad_arg(exc: _BadArg) -> tuple[Response, int]:
        return _error(400, "bad_request", str(exc))

    @app.errorhandler(404)
    def _not_found(_exc: Exception) -> tuple[Response, int]:
        return _error(404, "not_found", f"no route for {request.path}")

    @app.errorhandler(405)
    def _not_allowed(_exc: Exception) -> tuple[Response, int]:
        return _error(405, "method_not_allowed", f"{request.method} not allowed here")

    def find_org(slug: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = (
            db()
            .execute("SELECT * FROM T_ORG WHERE ORG_SLUG = ? AND DEL_FLG = 'N'", (slug,))
            .fetchone()
        )
        return row

    def find_form(org_id: int, slug: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = (
            db()
            .execute(
                "SELECT * FROM T_FRM WHERE ORG_ID = ? AND FRM_SLUG = ? AND DEL_FLG = 'N'",
                (org_id, slug),
            )
            .fetchone()
        )
        return row

    @app.get("/orgs")
    def list_orgs() -> Any:
        limit, offset = _int_arg("limit", 50, 200), _int_arg("offset", 0, 10**6)
        where, params = "DEL_FLG = 'N'", []
        if country := request.args.get("country"):
            where += " AND ORG_CTRY_CD = ?"
            params.append(country.upper())
        total = db().execute(f"SELECT COUNT(*) FROM T_ORG WHERE {where}", params).fetchone()[0]
        rows = db().execute(
            f"SELECT * FROM T_ORG WHERE {where} ORDER BY ORG_NM, ORG_SLUG LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return jsonify(
            items=[_org_json(r) for r in rows],
            total=total,
            limit=limit,
            offset=offset,
            generated_at=_now_iso(),
        )

    @app.get("/orgs/<slug>")
    def get_org(slug: str) -> Any:
        org = find_org(slug)
        if org is None:
            return _error(404, "not_found", f"no organisation {slug!r}")
        forms = (
            db()
            .execute(
                "SELECT COUNT(*) FROM T_FRM WHERE ORG_ID = ? AND DEL_FLG = 'N'", (org["ORG_ID"],)
            )
            .fetchone()[0]
        )
        return jsonify(**_org_json(org), forms_count=forms, request_id=str(uuid.uuid4()))

    @app.get("/orgs/<slug>/forms")
    def list_forms(slug: str) -> Any:
        org = find_org(slug)
        if org is None:
            return _error(404, "not_found", f"no organisation {slug!r}")
        rows = (
            db()
            .execute(
                "SELECT * FROM T_FRM WHERE ORG_ID = ? AND DEL_FLG = 'N' ORDER BY FRM_ID",
                (org["ORG_ID"],),
            )
            .fetchall()
        )
        return jsonify(
            items=[_form_json(r) for r in rows], total=len(rows), generated_at=_now_iso()
        )

    @app.get("/orgs/<slug>/forms/<form_slug>")
    def get_form(slug: str, form_slug: str) -> Any:
        org = find_org(slug)
        form = find_form(org["ORG_ID"], form_slug) if org is not None else None
        if org is None or form is None:
            return _error(404, "not_found", f"no form {form_slug!r} in {slug!r}")
        count, collected = (
            db()
            .execute(
                "SELECT COUNT(*), SUM(CASE WHEN ORD_STS_CD = 'C' THEN CAST(ORD_AMT AS INTEGER)"
                " ELSE 0 END) FROM T_ORD WHERE FRM_ID = ? AND DEL_FLG = 'N'",
                (form["FRM_ID"],),
            )
            .fetchone()
        )
        return jsonify(
            **_form_json(form),
            organisation=slug,
            orders_count=count,
            collected=money(collected or 0),
            request_id=str(uuid.uuid4()),
        )

    @app.get("/orgs/<slug>/orders")
    def search_orders(slug: str) -> Any:
        limit = _int_arg("limit", 20, 200)
        org = find_org(slug)
        if org is None:
            return _error(404, "not_found", f"no organisation {slug!r}")
        where = "F.ORG_ID = ? AND O.DEL_FLG = 'N'"
        params: list[Any] = [org["ORG_ID"]]
        if q := request.args.get("q"):
            where += " AND (O.ORD_PAYR_NM LIKE ? OR O.ORD_PAYR_EML LIKE ?)"
            params += [f"%{q}%", f"%{q}%"]
        if status := request.args.get("status"):
            codes = [c for c, name in ORDER_STATUSES.items() if name == status]
            if not codes:
                raise _BadArg(f"status must be one of {', '.join(ORDER_STATUSES.values())}")
            where += " AND O.ORD_STS_CD = ?"
            params.append(codes[0])
        base = f"FROM T_ORD O JOIN T_FRM F ON F.FRM_ID = O.FRM_ID WHERE {where}"
        total = db().execute(f"SELECT COUNT(*) {base}", params).fetchone()[0]
        rows = db().execute(
            f"SELECT O.*, F.FRM_SLUG {base} ORDER BY O.ORD_ID DESC LIMIT ?", [*params, limit]
        )
        items = [
            {
                "reference": r["ORD_REF"],
                "form": r["FRM_SLUG"],
                "payer_name": r["ORD_PAYR_NM"],
                "amount": money(r["ORD_AMT"]),
                "status": ORDER_STATUSES[r["ORD_STS_CD"]],
                "created_at": _iso(r["ORD_CRT_DT"]),
            }
            for r in rows
        ]
        return jsonify(items=items, total=total, generated_at=_now_iso())

    @app.post("/orgs/<slug>/forms/<form_slug>/orders")
    def create_order(slug: str, form_slug: str) -> Any:
        org = find_org(slug)
        form = find_form(org["ORG_ID"], form_slug) if org is not None else None
        if org is None or form is None:
            return _error(404, "not_found", f"no form {form_slug!r} in {slug!r}")
        body = request.get_json(silent=True) or {}
        name, email = body.get("payer_name"), body.get("payer_email")
        cents = parse_money(body.get("amount"))
        if not isinstance(name, str) or not name.strip():
            raise _BadArg("payer_name is required")
        if not isinstance(email, str) or "@" not in email:
            raise _BadArg("payer_email must be an e-mail address")
        if cents is None:
            raise _BadArg("amount must be a positive amount like '12.50'")
        now = datetime.now(UTC)
        conn = db()
        conn.execute("BEGIN IMMEDIATE")
        try:
            cur = conn.execute(
                "INSERT INTO T_ORD (FRM_ID, ORD_PAYR_NM, ORD_PAYR_EML, ORD_AMT, ORD_STS_CD,"
                " ORD_CRT_DT, LST_UPD_TS) VALUES (?, ?, ?, ?, 'P', ?, ?)",
                (
                    form["FRM_ID"],
                    name.strip(),
                    email,
                    cents_text(cents),
                    local_text(now),
                    stamp_text(now),
                ),
            )
            ref = f"ORD-{cur.lastrowid:06d}"
            conn.execute("UPDATE T_ORD SET ORD_REF = ? WHERE ORD_ID = ?", (ref, cur.lastrowid))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return jsonify(_order_json(conn, conn.execute(ORDER_SQL, (ref,)).fetchone())), 201

    @app.get("/orders/<ref>")
    def get_order(ref: str) -> Any:
        row = db().execute(ORDER_SQL, (ref,)).fetchone()
        if row is None:
            return _error(404, "not_found", f"no order {ref!r}")
        return jsonify(**_order_json(db(), row), request_id=str(uuid.uuid4()))

    @app.get("/payments/<ref>")
    def get_payment(ref: str) -> Any:
        row = db().execute(PAYMENT_SQL + " WHERE P.PAY_REF = ?", (ref,)).fetchone()
        if row is None:
            return _error(404, "not_found", f"no payment {ref!r}")
        return jsonify(**_payment_json(row), request_id=str(uuid.uuid4()))

    @app.post("/payments")
    def take_payment() -> Any:
        return _take_payment(db())

    _legacy_only(app, db, find_org)
    return app


def _legacy_only(
    app: Flask, db: Callable[[], sqlite3.Connection], find_org: Callable[[str], Any]
) -> None:
    """Endpoints only legacy serves and nobody wrote in the strangler config: an org's
    statistics page, receipts by the payment's internal id, a daily report. Live discovery
    finds them in the catch-all's traffic."""

    @app.get("/orgs/<slug>/stats")
    def org_stats(slug: str) -> Any:
        org = find_org(slug)
        if org is None:
            return _error(404, "not_found", f"no organisation {slug!r}")
        orders, collected = (
            db()
            .execute(
                "SELECT COUNT(*), SUM(CASE WHEN O.ORD_STS_CD = 'C' THEN CAST(O.ORD_AMT AS"
                " INTEGER) ELSE 0 END) FROM T_ORD O JOIN T_FRM F ON F.FRM_ID = O.FRM_ID"
                " WHERE F.ORG_ID = ? AND O.DEL_FLG = 'N'",
                (org["ORG_ID"],),
            )
            .fetchone()
        )
        return jsonify(organisation=slug, orders=orders, collected=money(collected or 0))

    @app.get("/receipts/<int:pay_id>")
    def receipt(pay_id: int) -> Any:
        row = db().execute(PAYMENT_SQL + " WHERE P.PAY_ID = ?", (pay_id,)).fetchone()
        if row is None:
            return _error(404, "not_found", f"no receipt {pay_id}")
        return jsonify(**_payment_json(row), receipt_number=f"R{pay_id:08d}")

    @app.get("/reports/daily/<day>")
    def daily_report(day: str) -> Any:
        try:
            date = datetime.strptime(day, "%Y-%m-%d")
        except ValueError:
            return _error(400, "bad_request", f"a day is YYYY-MM-DD, got {day!r}")
        local = date.strftime("%d/%m/%Y") + "%"  # legacy dates: 'DD/MM/YYYY HH:MM' text
        count, total = (
            db()
            .execute(
                "SELECT COUNT(*), SUM(CAST(PAY_AMT AS INTEGER)) FROM T_PAY WHERE PAY_DT LIKE ?",
                (local,),
            )
            .fetchone()
        )
        return jsonify(day=day, payments=count, total=money(total or 0))


def _take_payment(conn: sqlite3.Connection) -> Any:
    """Take a payment once per ``Idempotency-Key``; a replay returns the first answer."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        return _error(400, "idempotency_key_required", "send an Idempotency-Key header")
    body = request.get_json(silent=True) or {}
    ref, cents = body.get("order"), parse_money(body.get("amount"))
    if not isinstance(ref, str) or cents is None:
        raise _BadArg("send {'order': 'ORD-...', 'amount': '12.50'}")
    conn.execute("BEGIN IMMEDIATE")  # one writer at a time: the check and the insert are atomic
    try:
        seen = conn.execute(PAYMENT_SQL + " WHERE P.PAY_IDEM_KEY = ?", (key,)).fetchone()
        if seen is not None:
            conn.execute("COMMIT")
            if seen["ORD_REF"] != ref or int(seen["PAY_AMT"]) != cents:
                return _error(
                    422, "idempotency_key_reused", "this key was used for another payment"
                )
            replay = jsonify(_payment_json(seen))
            replay.headers["Idempotent-Replayed"] = "true"
            return replay, 200
        order = conn.execute(
            "SELECT * FROM T_ORD WHERE ORD_REF = ? AND DEL_FLG = 'N'", (ref,)
        ).fetchone()
        problem = _payment_problem(order, cents, ref)
        if problem is not None:
            conn.execute("ROLLBACK")
            return problem
        now = datetime.now(UTC)
        cur = conn.execute(
            "INSERT INTO T_PAY (ORD_ID, PAY_AMT, PAY_FEE_AMT, PAY_IDEM_KEY, PAY_STS_CD, PAY_DT,"
            " LST_UPD_TS) VALUES (?, ?, ?, ?, 'S', ?, ?)",
            (
                order["ORD_ID"],
                cents_text(cents),
                cents_text(legacy_fee_cents(cents)),
                key,
                local_text(now),
                stamp_text(now),
            ),
        )
        pay_ref = f"PAY-{cur.lastrowid:06d}"
        conn.execute("UPDATE T_PAY SET PAY_REF = ? WHERE PAY_ID = ?", (pay_ref, cur.lastrowid))
        conn.execute(
            "UPDATE T_ORD SET ORD_STS_CD = 'C', LST_UPD_TS = ? WHERE ORD_ID = ?",
            (stamp_text(now), order["ORD_ID"]),
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    row = conn.execute(PAYMENT_SQL + " WHERE P.PAY_REF = ?", (pay_ref,)).fetchone()
    return jsonify(_payment_json(row)), 201


def _payment_problem(order: sqlite3.Row | None, cents: int, ref: str) -> Any:
    if order is None:
        return _error(404, "not_found", f"no order {ref!r}")
    if order["ORD_STS_CD"] != "P":
        status = ORDER_STATUSES[order["ORD_STS_CD"]]
        return _error(409, "order_not_payable", f"order {ref} is {status}, not pending")
    if int(order["ORD_AMT"]) != cents:
        due = money(order["ORD_AMT"])
        return _error(422, "amount_mismatch", f"order {ref} is for {due}, not {money(cents)}")
    return None


class _LazyApp:
    """The WSGI callable for ``examples.legacy.app:application``: reads the DB path from
    ``$EXAMPLES_LEGACY_DB`` when the first request arrives, not at import."""

    def __init__(self) -> None:
        self._app: Flask | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if self._app is None:
            self._app = create_app()
        return self._app(environ, start_response)


application = _LazyApp()
