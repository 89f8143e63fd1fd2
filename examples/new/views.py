"""Response objects of the use cases, and how each becomes JSON.

Each view is a frozen value; ``to_json()`` gives the API's shape (same paths and keys
as legacy, keys in declaration order rather than legacy's alphabetical order)::

    >>> money(1250)
    '12.50'
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from examples.new.models import Form, Order, Organisation, Payment

__all__ = [
    "FormDetail",
    "FormList",
    "OrderDetail",
    "OrderSearchResult",
    "OrganisationDetail",
    "OrganisationPage",
    "PaymentResult",
    "PaymentView",
    "iso",
    "money",
]


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _request_id() -> str:
    return str(uuid.uuid4())


def _org(org: Organisation) -> dict[str, Any]:
    return {
        "slug": org.slug,
        "name": org.name,
        "country": org.country_code,
        "created_at": iso(org.created_at),
    }


def _form(form: Form) -> dict[str, Any]:
    return {
        "slug": form.slug,
        "title": form.title,
        "type": form.kind,
        "goal": None if form.goal_cents is None else money(form.goal_cents),
        "created_at": iso(form.created_at),
    }


@dataclass(frozen=True, slots=True)
class OrganisationPage:
    items: tuple[Organisation, ...]
    total: int
    limit: int
    offset: int
    generated_at: str = field(default_factory=_now)

    def to_json(self) -> dict[str, Any]:
        return {
            "items": [_org(o) for o in self.items],
            "total": self.total,
            "limit": self.limit,
            "offset": self.offset,
            "generated_at": self.generated_at,
        }


@dataclass(frozen=True, slots=True)
class OrganisationDetail:
    organisation: Organisation
    forms_count: int
    request_id: str = field(default_factory=_request_id)

    def to_json(self) -> dict[str, Any]:
        return {
            **_org(self.organisation),
            "forms_count": self.forms_count,
            "request_id": self.request_id,
        }


@dataclass(frozen=True, slots=True)
class FormList:
    items: tuple[Form, ...]
    generated_at: str = field(default_factory=_now)

    def to_json(self) -> dict[str, Any]:
        return {
            "items": [_form(f) for f in self.items],
            "total": len(self.items),
            "generated_at": self.generated_at,
        }


@dataclass(frozen=True, slots=True)
class FormDetail:
    form: Form
    organisation: str
    collected_cents: int
    request_id: str = field(default_factory=_request_id)

    def to_json(self) -> dict[str, Any]:
        return {
            **_form(self.form),
            "organisation": self.organisation,
            "collected": money(self.collected_cents),
            "request_id": self.request_id,
        }


@dataclass(frozen=True, slots=True)
class OrderSearchResult:
    items: tuple[tuple[Order, str], ...]
    total: int
    generated_at: str = field(default_factory=_now)

    def to_json(self) -> dict[str, Any]:
        items = [
            {
                "reference": o.reference,
                "form": form_slug,
                "payer_name": o.payer_name,
                "amount": money(o.amount_cents),
                "status": o.status,
                "created_at": iso(o.created_at),
            }
            for o, form_slug in self.items
        ]
        return {"items": items, "total": self.total, "generated_at": self.generated_at}


@dataclass(frozen=True, slots=True)
class PaymentView:
    payment: Payment
    order_reference: str

    def to_json(self) -> dict[str, Any]:
        p = self.payment
        return {
            "reference": p.reference,
            "order": self.order_reference,
            "amount": money(p.amount_cents),
            "fee": money(p.fee_cents),
            "status": p.status,
            # The rewrite's own date helper: it forgets the zone designator.
            "taken_at": p.taken_at.strftime("%Y-%m-%dT%H:%M:%S"),
        }


def _payment_line(view: PaymentView) -> dict[str, Any]:
    p = view.payment
    return {
        "reference": p.reference,
        "order": view.order_reference,
        "amount": money(p.amount_cents),
        "fee": money(p.fee_cents),
        "status": p.status,
        "taken_at": iso(p.taken_at),
    }


@dataclass(frozen=True, slots=True)
class PaymentResult:
    view: PaymentView
    replayed: bool


@dataclass(frozen=True, slots=True)
class OrderDetail:
    order: Order
    form: str
    organisation: str
    fee_cents: int
    payments: tuple[PaymentView, ...]
    request_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        o = self.order
        body = {
            "reference": o.reference,
            "organisation": self.organisation,
            "form": self.form,
            "payer_name": o.payer_name,
            "payer_email": o.payer_email,
            "amount": money(o.amount_cents),
            "fee": money(self.fee_cents),
            "net": money(o.amount_cents - self.fee_cents),
            "status": o.status,
            "created_at": iso(o.created_at),
            "payments": [_payment_line(p) for p in self.payments],
        }
        if self.request_id is not None:
            body["request_id"] = self.request_id
        return body
