"""The data-access layer: one repository per aggregate, over a SQLAlchemy session.

Commands never write SQL; they ask repositories, which hide soft deletes and joins::

    >>> with UnitOfWork(engine) as uow:                     # doctest: +SKIP
    ...     org = uow.organisations.by_slug("hope-fr")
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import TracebackType

from sqlalchemy import ColumnElement, Engine, case, func, select, update
from sqlalchemy.orm import Session

from examples.new.models import Form, Order, Organisation, Payment

__all__ = [
    "FormRepository",
    "OrderRepository",
    "OrganisationRepository",
    "PaymentRepository",
    "UnitOfWork",
]


class OrganisationRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def by_slug(self, slug: str) -> Organisation | None:
        return self._s.scalar(
            select(Organisation).where(Organisation.slug == slug, Organisation.deleted_at.is_(None))
        )

    def page(
        self, *, country: str | None, limit: int, offset: int
    ) -> tuple[Sequence[Organisation], int]:
        where: list[ColumnElement[bool]] = [Organisation.deleted_at.is_(None)]
        if country:
            where.append(Organisation.country_code == country.upper())
        total = self._s.scalar(select(func.count()).select_from(Organisation).where(*where))
        rows = self._s.scalars(
            select(Organisation)
            .where(*where)
            .order_by(Organisation.name, Organisation.slug)
            .limit(limit)
            .offset(offset)
        ).all()
        return rows, total or 0

    def count_forms(self, org: Organisation) -> int:
        return (
            self._s.scalar(
                select(func.count())
                .select_from(Form)
                .where(Form.organisation_id == org.id, Form.deleted_at.is_(None))
            )
            or 0
        )


class FormRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def of(self, org: Organisation) -> Sequence[Form]:
        # Sorted by title "for the user": legacy lists forms in creation order (id).
        return self._s.scalars(
            select(Form)
            .where(Form.organisation_id == org.id, Form.deleted_at.is_(None))
            .order_by(Form.title)
        ).all()

    def by_slug(self, org: Organisation, slug: str) -> Form | None:
        return self._s.scalar(
            select(Form).where(
                Form.organisation_id == org.id, Form.slug == slug, Form.deleted_at.is_(None)
            )
        )

    def collected_cents(self, form: Form) -> int:
        paid = func.sum(case((Order.status == "paid", Order.amount_cents), else_=0))
        total = self._s.scalar(
            select(paid).where(Order.form_id == form.id, Order.deleted_at.is_(None))
        )
        return int(total or 0)


class OrderRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def by_reference(self, reference: str) -> tuple[Order, Form, Organisation] | None:
        row = self._s.execute(
            select(Order, Form, Organisation)
            .join(Form, Form.id == Order.form_id)
            .join(Organisation, Organisation.id == Form.organisation_id)
            .where(Order.reference == reference, Order.deleted_at.is_(None))
        ).first()
        return None if row is None else (row[0], row[1], row[2])

    def search(
        self, org: Organisation, *, text: str | None, status: str | None, limit: int
    ) -> tuple[Sequence[tuple[Order, str]], int]:
        where: list[ColumnElement[bool]] = [
            Form.organisation_id == org.id,
            Order.deleted_at.is_(None),
        ]
        if text:
            where.append(Order.payer_name.like(f"%{text}%") | Order.payer_email.like(f"%{text}%"))
        if status:
            where.append(Order.status == status)
        base = select(Order, Form.slug).join(Form, Form.id == Order.form_id).where(*where)
        total = self._s.scalar(select(func.count()).select_from(base.subquery()))
        rows = self._s.execute(base.order_by(Order.created_at.desc(), Order.id.desc()).limit(limit))
        return [(o, slug) for o, slug in rows], total or 0

    def add(self, order: Order) -> Order:
        self._s.add(order)
        self._s.flush()
        order.reference = f"ORD-{order.id:06d}"
        return order

    def mark_paid(self, order: Order, now: datetime) -> bool:
        """Pending -> paid, only if still pending (False when someone paid it first)."""
        result = self._s.execute(
            update(Order)
            .where(Order.id == order.id, Order.status == "pending")
            .values(status="paid", updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)


class PaymentRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def by_reference(self, reference: str) -> tuple[Payment, str] | None:
        row = self._s.execute(
            select(Payment, Order.reference)
            .join(Order, Order.id == Payment.order_id)
            .where(Payment.reference == reference)
        ).first()
        return None if row is None else (row[0], row[1] or "")

    def by_idempotency_key(self, key: str) -> tuple[Payment, str] | None:
        row = self._s.execute(
            select(Payment, Order.reference)
            .join(Order, Order.id == Payment.order_id)
            .where(Payment.idempotency_key == key)
        ).first()
        return None if row is None else (row[0], row[1] or "")

    def of(self, order: Order) -> Sequence[Payment]:
        return self._s.scalars(
            select(Payment).where(Payment.order_id == order.id).order_by(Payment.id)
        ).all()

    def add(self, payment: Payment) -> Payment:
        self._s.add(payment)
        self._s.flush()
        payment.reference = f"PAY-{payment.id:06d}"
        return payment


class UnitOfWork:
    """One session and its repositories; commits on a clean exit, rolls back otherwise."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __enter__(self) -> UnitOfWork:
        self.session = Session(self._engine, expire_on_commit=False)
        self.organisations = OrganisationRepository(self.session)
        self.forms = FormRepository(self.session)
        self.orders = OrderRepository(self.session)
        self.payments = PaymentRepository(self.session)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                self.session.commit()
            else:
                self.session.rollback()
        finally:
            self.session.close()

    def rollback(self) -> None:
        self.session.rollback()
