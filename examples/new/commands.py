"""The command layer: one request object per use case, each with ``run(uow)``.

The HTTP layer only turns requests into commands and views into JSON; every rule of the
domain lives here::

    >>> with UnitOfWork(engine) as uow:                        # doctest: +SKIP
    ...     GetOrganisation("hope-fr").run(uow).to_json()["name"]
    'Hope France'
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy.exc import IntegrityError

from examples.new.models import Order, Payment
from examples.new.repositories import UnitOfWork
from examples.new.views import (
    FormDetail,
    FormList,
    OrderDetail,
    OrderSearchResult,
    OrganisationDetail,
    OrganisationPage,
    PaymentResult,
    PaymentView,
    money,
)

__all__ = [
    "STATUSES",
    "AppError",
    "CreateOrder",
    "CreatePayment",
    "GetForm",
    "GetOrder",
    "GetOrganisation",
    "GetPayment",
    "ListForms",
    "ListOrganisations",
    "SearchOrders",
    "parse_amount",
    "platform_fee_cents",
]

STATUSES = ("pending", "paid", "refunded", "cancelled")


class AppError(Exception):
    """An answer other than success: HTTP status, error code and a message for the client."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _not_found(message: str) -> AppError:
    return AppError(404, "not_found", message)


def bad_request(message: str) -> AppError:
    return AppError(400, "bad_request", message)


def parse_amount(value: object) -> int | None:
    """``'12.50' -> 1250``; None unless a positive amount with at most two decimals."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        return None
    return int(amount * 100)


def platform_fee_cents(amount_cents: int) -> int:
    """1.4 % + 0.25 EUR. Float arithmetic and Python's round-half-even: not legacy's rule."""
    return round(amount_cents * 0.014) + 25


def _minute_now() -> datetime:
    # Kept to the minute, as legacy stores it.
    return datetime.now(UTC).replace(second=0, microsecond=0)


@dataclass(frozen=True, slots=True)
class ListOrganisations:
    country: str | None = None
    limit: int = 50
    offset: int = 0

    def run(self, uow: UnitOfWork) -> OrganisationPage:
        rows, total = uow.organisations.page(
            country=self.country, limit=self.limit, offset=self.offset
        )
        return OrganisationPage(tuple(rows), total, self.limit, self.offset)


@dataclass(frozen=True, slots=True)
class GetOrganisation:
    slug: str

    def run(self, uow: UnitOfWork) -> OrganisationDetail:
        org = uow.organisations.by_slug(self.slug)
        if org is None:
            raise _not_found(f"no organisation {self.slug!r}")
        return OrganisationDetail(org, uow.organisations.count_forms(org))


@dataclass(frozen=True, slots=True)
class ListForms:
    organisation: str

    def run(self, uow: UnitOfWork) -> FormList:
        org = uow.organisations.by_slug(self.organisation)
        if org is None:
            raise _not_found(f"no organisation {self.organisation!r}")
        return FormList(tuple(uow.forms.of(org)))


@dataclass(frozen=True, slots=True)
class GetForm:
    organisation: str
    form: str

    def run(self, uow: UnitOfWork) -> FormDetail:
        org = uow.organisations.by_slug(self.organisation)
        form = uow.forms.by_slug(org, self.form) if org is not None else None
        if form is None:
            raise _not_found(f"no form {self.form!r} in {self.organisation!r}")
        return FormDetail(form, self.organisation, uow.forms.collected_cents(form))


@dataclass(frozen=True, slots=True)
class SearchOrders:
    organisation: str
    text: str | None = None
    status: str | None = None
    limit: int = 20

    def run(self, uow: UnitOfWork) -> OrderSearchResult:
        org = uow.organisations.by_slug(self.organisation)
        if org is None:
            raise _not_found(f"no organisation {self.organisation!r}")
        if self.status and self.status not in STATUSES:
            raise bad_request(f"status must be one of {', '.join(STATUSES)}")
        rows, total = uow.orders.search(org, text=self.text, status=self.status, limit=self.limit)
        return OrderSearchResult(tuple(rows), total)


def _order_detail(uow: UnitOfWork, reference: str, *, with_request_id: bool) -> OrderDetail:
    found = uow.orders.by_reference(reference)
    if found is None:
        raise _not_found(f"no order {reference!r}")
    order, form, org = found
    payments = tuple(PaymentView(p, reference) for p in uow.payments.of(order))
    return OrderDetail(
        order,
        form.slug,
        org.slug,
        platform_fee_cents(order.amount_cents),
        payments,
        str(uuid.uuid4()) if with_request_id else None,
    )


@dataclass(frozen=True, slots=True)
class GetOrder:
    reference: str

    def run(self, uow: UnitOfWork) -> OrderDetail:
        return _order_detail(uow, self.reference, with_request_id=True)


@dataclass(frozen=True, slots=True)
class CreateOrder:
    organisation: str
    form: str
    payer_name: object
    payer_email: object
    amount: object

    def run(self, uow: UnitOfWork) -> OrderDetail:
        org = uow.organisations.by_slug(self.organisation)
        form = uow.forms.by_slug(org, self.form) if org is not None else None
        if form is None:
            raise _not_found(f"no form {self.form!r} in {self.organisation!r}")
        cents = parse_amount(self.amount)
        if not isinstance(self.payer_name, str) or not self.payer_name.strip():
            raise bad_request("payer_name is required")
        if not isinstance(self.payer_email, str) or "@" not in self.payer_email:
            raise bad_request("payer_email must be an e-mail address")
        if cents is None:
            raise bad_request("amount must be a positive amount like '12.50'")
        now = _minute_now()
        order = uow.orders.add(
            Order(
                form_id=form.id,
                payer_name=self.payer_name.strip(),
                payer_email=self.payer_email,
                amount_cents=cents,
                status="pending",
                created_at=now,
                updated_at=now,
            )
        )
        return _order_detail(uow, order.reference or "", with_request_id=False)


@dataclass(frozen=True, slots=True)
class GetPayment:
    reference: str

    def run(self, uow: UnitOfWork) -> PaymentView:
        found = uow.payments.by_reference(self.reference)
        if found is None:
            raise _not_found(f"no payment {self.reference!r}")
        return PaymentView(*found)


@dataclass(frozen=True, slots=True)
class CreatePayment:
    """Take a payment once per idempotency key; a replay returns the first payment."""

    idempotency_key: str
    order: object
    amount: object

    def run(self, uow: UnitOfWork) -> PaymentResult:
        if not self.idempotency_key:
            raise AppError(400, "idempotency_key_required", "send an Idempotency-Key header")
        cents = parse_amount(self.amount)
        if not isinstance(self.order, str) or cents is None:
            raise bad_request("send {'order': 'ORD-...', 'amount': '12.50'}")
        seen = uow.payments.by_idempotency_key(self.idempotency_key)
        if seen is not None:
            return self._replay(PaymentView(*seen), cents)
        found = uow.orders.by_reference(self.order)
        if found is None:
            raise _not_found(f"no order {self.order!r}")
        order = found[0]
        if order.status != "pending":
            # A concurrent retry with this key may have paid it just now: answer as a replay.
            seen = uow.payments.by_idempotency_key(self.idempotency_key)
            if seen is not None:
                return self._replay(PaymentView(*seen), cents)
            raise AppError(
                409, "order_not_payable", f"order {self.order} is {order.status}, not pending"
            )
        if order.amount_cents != cents:
            raise AppError(
                422,
                "amount_mismatch",
                f"order {self.order} is for {money(order.amount_cents)}, not {money(cents)}",
            )
        now = _minute_now()
        try:
            payment = uow.payments.add(
                Payment(
                    order_id=order.id,
                    amount_cents=cents,
                    fee_cents=platform_fee_cents(cents),
                    idempotency_key=self.idempotency_key,
                    status="succeeded",
                    taken_at=now,
                    updated_at=now,
                )
            )
        except IntegrityError:  # the same key, concurrently: the other request won
            uow.rollback()
            seen = uow.payments.by_idempotency_key(self.idempotency_key)
            if seen is None:
                raise
            return self._replay(PaymentView(*seen), cents)
        if not uow.orders.mark_paid(order, now):
            uow.rollback()
            raise AppError(409, "order_not_payable", f"order {self.order} is paid, not pending")
        return PaymentResult(PaymentView(payment, self.order), replayed=False)

    def _replay(self, view: PaymentView, cents: int) -> PaymentResult:
        if view.order_reference != self.order or view.payment.amount_cents != cents:
            raise AppError(422, "idempotency_key_reused", "this key was used for another payment")
        return PaymentResult(view, replayed=True)
