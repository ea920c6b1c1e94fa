"""GDPR for a customer account: export everything we hold on them, or anonymize them.

**Export** (right of access, art. 15; portability, art. 20): ``export_files(user_id)`` gathers
the account, the addresses used at checkout, the orders with their lines, payments, refunds
and shipments, the list of invoices and credit notes, the carts with their history, the
consent state, the emails sent and the messages written from the contact page;
``zip_stream(files)`` writes them as JSON files of a ZIP archive, chunk by chunk. A fixed
number of queries whatever the size of the history. Left out on purpose: the cart cookie
tokens and the bodies of emails (a password-reset mail carries a working link: the export
would hand staff a key to the account).

**Anonymization** (right to erasure, art. 17, within the limits of art. 17(3)(b): records the
law requires us to keep): ``anonymize(user_id)`` scrubs the person from the account and from
their orders (names, addresses, phone, email), shipments (tracking numbers, which open the
delivery address at the carrier's), carts, emails and the messages they sent from the
contact page, in one transaction, while every order
keeps its number, amounts, lines, taxes and payments for the accounting retention period
(10 years, Code de commerce art. L123-22). What stays, by law:

- **invoices and credit notes, untouched**: each is an immutable snapshot with its stored
  PDF, and French law requires the buyer's name and address on it (CGI annexe II art. 242
  nonies A) and forbids altering an issued invoice;
- each order's **destination country and region**, the evidence of the place of supply
  that decided its VAT (EU VAT One-Stop-Shop records, 10 years);
- the SHA-256 of the address in the unsubscribe list (it only answers "may we write to X?",
  and honouring an opt-out is itself a legal duty).

Not searched: free text written by staff (refund and stock-adjustment reasons) and the
append-only audit log, where staff must not write personal data (the customer pages audit
ids and counts only); the payment provider keeps its own records of the card payments.

The account's email becomes ``anonymized-<id>@anonymized.invalid`` (unique, undeliverable),
its password hash a value no password matches, ``anonymized_at`` is set: the person can no
longer log in and every session of theirs ends.
"""

from __future__ import annotations

import io
import json
import secrets
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import selectinload

from shop.accounts.models import Role, User
from shop.cart.models import Cart, CartEvent, CartRecoveryEmail, CartRecoveryToken
from shop.catalogue.models import ProductVariant
from shop.clock import utcnow
from shop.emails import contact, suppression
from shop.emails.models import EmailMessage, EmailStatus
from shop.extensions import db
from shop.invoices.models import Invoice
from shop.orders.models import Order, OrderStatus, Payment, Refund, Shipment

#: The address fields an anonymized order keeps: where the sale was taxed.
KEPT_ADDRESS_FIELDS = ("country", "region")
ANONYMIZED_DOMAIN = "anonymized.invalid"
#: Orders that still need the customer's address: unpaid, or paid and not yet shipped.
IN_PROGRESS = (OrderStatus.DRAFT, OrderStatus.PENDING_PAYMENT, OrderStatus.PAID)
EXPORT_FILES = (
    "account.json",
    "addresses.json",
    "orders.json",
    "invoices.json",
    "carts.json",
    "consent.json",
    "emails.json",
    "contact_messages.json",
)


class GdprError(Exception):
    message = _l("This customer cannot be anonymized.")


class NotACustomer(GdprError):
    message = _l("Only customer accounts can be exported or anonymized; staff accounts cannot.")


class AlreadyAnonymized(GdprError):
    message = _l("This customer has already been anonymized.")


class OrdersInProgress(GdprError):
    message = _l(
        "This customer has orders still in progress (awaiting payment or shipping): "
        "ship or cancel them first, their address is still needed."
    )

    def __init__(self, numbers: list[str]) -> None:
        super().__init__(", ".join(numbers))
        self.numbers = numbers


@dataclass(frozen=True)
class Anonymized:
    """What an anonymization scrubbed (counts only: no personal data)."""

    orders: int
    carts: int
    emails: int
    contact_messages: int = 0


def placeholder_email(user_id: int) -> str:
    return f"anonymized-{user_id}@{ANONYMIZED_DOMAIN}"


def _customer(user_id: int, *, lock: bool = False) -> User:
    query = select(User).where(User.id == user_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    user = db.session.execute(query).scalar_one_or_none()
    if user is None or user.role != Role.CUSTOMER:
        db.session.rollback()
        raise NotACustomer(user_id)
    return user


def _orders_of(user: User) -> Any:
    """The same orders as ``shop.reports.measures.orders_of_customer``, for one known user."""
    return or_(
        Order.customer_id == user.id,
        and_(Order.customer_id.is_(None), Order.email == user.email),
    )


def _carts_of(user: User) -> Any:
    return or_(Cart.customer_id == user.id, Cart.email == user.email)


# -- export --------------------------------------------------------------------------------


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _address_key(address: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(address.get(k) or "").casefold() for k in sorted(address))


def export_files(user_id: int) -> list[tuple[str, Any]]:
    """(file name, JSON-able content) of everything held on a customer, in ``EXPORT_FILES``
    order. Reads only; fifteen queries at most, whatever the history's size."""
    user = _customer(user_id)
    orders = (
        db.session.execute(
            select(Order)
            .where(_orders_of(user))
            .options(selectinload(Order.lines), selectinload(Order.tax_lines))
            .order_by(Order.created_at, Order.id)
        )
        .scalars()
        .all()
    )
    order_ids = [o.id for o in orders]
    numbers = {o.id: o.number for o in orders}
    payments = _by_order(Payment, order_ids)
    refunds = _by_order(Refund, order_ids)
    shipments = _by_order(Shipment, order_ids)
    invoices = (
        db.session.execute(
            select(Invoice).where(Invoice.order_id.in_(order_ids)).order_by(Invoice.id)
        )
        .scalars()
        .all()
        if order_ids
        else []
    )
    carts = (
        db.session.execute(
            select(Cart)
            .where(_carts_of(user))
            .options(selectinload(Cart.items))
            .order_by(Cart.created_at, Cart.id)
        )
        .scalars()
        .all()
    )
    events: dict[int, list[CartEvent]] = {}
    if carts:
        for event in db.session.scalars(
            select(CartEvent)
            .where(CartEvent.cart_id.in_([c.id for c in carts]))
            .order_by(CartEvent.at, CartEvent.id)
        ):
            events.setdefault(event.cart_id, []).append(event)
    variant_ids = {i.variant_id for c in carts for i in c.items} | {
        e.variant_id for found in events.values() for e in found if e.variant_id
    }
    skus = (
        dict(
            db.session.execute(
                select(ProductVariant.id, ProductVariant.sku).where(
                    ProductVariant.id.in_(variant_ids)
                )
            ).all()
        )
        if variant_ids
        else {}
    )
    addresses_to = {user.email} | {o.email for o in orders}
    emails = db.session.scalars(
        select(EmailMessage)
        .where(EmailMessage.to_address.in_(sorted(addresses_to)))
        .order_by(EmailMessage.created_at, EmailMessage.id)
    ).all()
    messages = contact.messages_from(addresses_to)

    addresses: list[dict[str, Any]] = []
    seen: set[tuple[str, ...]] = set()
    for order in orders:
        for use, address in (
            ("shipping", order.shipping_address),
            ("billing", order.billing_address),
        ):
            if address and (key := _address_key(address)) not in seen:
                seen.add(key)
                addresses.append({**address, "first_used": _when(order.placed_at), "used_for": use})

    return [
        (
            "account.json",
            {
                "id": user.id,
                "email": user.email,
                "locale": user.locale,
                "created_at": _when(user.created_at),
                "last_login_at": _when(user.last_login_at),
                "password_changed_at": _when(user.password_changed_at),
                "active": user.is_active,
                "anonymized_at": _when(user.anonymized_at),
                "exported_at": _when(utcnow()),
            },
        ),
        ("addresses.json", addresses),
        (
            "orders.json",
            [
                _order_export(
                    o, payments.get(o.id, []), refunds.get(o.id, []), shipments.get(o.id, [])
                )
                for o in orders
            ],
        ),
        (
            "invoices.json",
            [
                {
                    "number": i.full_number,
                    "kind": i.kind,
                    "order": numbers.get(i.order_id),
                    "issued_at": _when(i.issued_at),
                    "currency": i.data.get("currency"),
                    "total": (i.data.get("totals") or {}).get("incl"),
                }
                for i in invoices
            ],
        ),
        ("carts.json", [_cart_export(c, events.get(c.id, []), skus) for c in carts]),
        (
            "consent.json",
            {
                "marketing_email": user.marketing_consent,
                "marketing_email_given_at": _when(user.marketing_consent_at),
                "unsubscribed_from_marketing": suppression.is_suppressed(user.email),
                "cart_reminders": [
                    {
                        "cart_created_at": _when(c.created_at),
                        "given_at": _when(c.recovery_consent_at),
                    }
                    for c in carts
                    if c.recovery_consent_at
                ],
            },
        ),
        (
            "emails.json",
            [
                {
                    "kind": m.kind,
                    "to": m.to_address,
                    "subject": m.subject,
                    "locale": m.locale,
                    "status": m.status,
                    "created_at": _when(m.created_at),
                    "sent_at": _when(m.sent_at),
                }
                for m in emails
            ],
        ),
        (
            "contact_messages.json",
            [
                {
                    "name": m.payload.get("name", ""),
                    "email": m.payload.get("email", ""),
                    "subject": m.payload.get("subject", ""),
                    "message": m.payload.get("message", ""),
                    "sent_at": _when(m.created_at),
                }
                for m in messages
            ],
        ),
    ]


def _by_order(model: Any, order_ids: list[int]) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = {}
    if order_ids:
        for row in db.session.scalars(
            select(model).where(model.order_id.in_(order_ids)).order_by(model.id)
        ):
            grouped.setdefault(row.order_id, []).append(row)
    return grouped


def _order_export(
    order: Order, payments: list[Payment], refunds: list[Refund], shipments: list[Shipment]
) -> dict[str, Any]:
    return {
        "number": order.number,
        "status": order.status,
        "email": order.email,
        "locale": order.locale,
        "currency": order.currency,
        "placed_at": _when(order.placed_at),
        "paid_at": _when(order.paid_at),
        "cancelled_at": _when(order.cancelled_at),
        "prices_include_tax": order.prices_include_tax,
        "subtotal": order.subtotal,
        "shipping_total": order.shipping_total,
        "tax_total": order.tax_total,
        "total": order.total,
        "amount_refunded": order.amount_refunded,
        "shipping_address": order.shipping_address,
        "billing_address": order.billing_address,
        "shipping_method": order.shipping_method_name,
        "payment_method": order.payment_method,
        "lines": [
            {
                "sku": line.sku,
                "title": {"fr": line.title_fr, "en": line.title_en},
                "variant": {"fr": line.variant_fr, "en": line.variant_en},
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "line_total": line.line_total,
                "tax_amount": line.tax_amount,
                "quantity_refunded": line.quantity_refunded,
            }
            for line in order.lines
        ],
        "taxes": [
            {"name": {"fr": t.name_fr, "en": t.name_en}, "rate_ppm": t.rate_ppm, "amount": t.amount}
            for t in order.tax_lines
        ],
        "payments": [
            {
                "provider": p.provider,
                "status": p.status,
                "amount": p.amount,
                "created_at": _when(p.created_at),
                "succeeded_at": _when(p.succeeded_at),
            }
            for p in payments
        ],
        "refunds": [
            {"amount": r.amount, "reason": r.reason, "created_at": _when(r.created_at)}
            for r in refunds
        ],
        "shipments": [
            {
                "carrier": s.carrier_name or s.carrier,
                "tracking_number": s.tracking_number,
                "tracking_url": s.tracking_url,
                "shipped_at": _when(s.shipped_at),
            }
            for s in shipments
        ],
    }


def _cart_export(cart: Cart, events: list[CartEvent], skus: dict[int, str]) -> dict[str, Any]:
    return {
        "status": cart.status,
        "locale": cart.locale,
        "email": cart.email,
        "created_at": _when(cart.created_at),
        "last_activity_at": _when(cart.last_activity_at),
        "items": [
            {
                "sku": skus.get(item.variant_id),
                "quantity": item.quantity,
                "unit_price": item.unit_price,
                "added_at": _when(item.added_at),
            }
            for item in cart.items
        ],
        "history": [
            {
                "event": e.kind,
                "sku": skus.get(e.variant_id) if e.variant_id else None,
                "quantity": e.quantity,
                "at": _when(e.at),
            }
            for e in events
        ],
    }


class _Chunks(io.RawIOBase):
    """A write-only, unseekable sink: ``zipfile`` then writes a streamable archive (sizes in
    data descriptors) and ``take`` hands over what it wrote so far."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._parts.append(bytes(data))
        self.size += len(data)
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        self.size = 0
        return data


CHUNK_SIZE = 64 * 1024


def zip_stream(files: Iterable[tuple[str, Any]]) -> Iterator[bytes]:
    """A ZIP archive of one indented UTF-8 JSON file per entry, yielded in chunks as it is
    compressed: nothing holds the whole archive."""
    sink = _Chunks()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in files:
            encoder = json.JSONEncoder(ensure_ascii=False, indent=2)
            with archive.open(name, "w") as member:
                for piece in encoder.iterencode(content):
                    member.write(piece.encode())
                    if sink.size >= CHUNK_SIZE:
                        yield sink.take()
            if sink.size:
                yield sink.take()
    if sink.size:
        yield sink.take()


# -- anonymization ---------------------------------------------------------------------------


def _scrubbed(address: dict[str, Any] | None) -> dict[str, Any]:
    address = address or {}
    return {k: (v if k in KEPT_ADDRESS_FIELDS else "") for k, v in address.items()}


def anonymize(user_id: int) -> Anonymized:
    """Scrub a customer's personal data, keeping what the law requires (module docstring).

    All or nothing, under a lock on the account. Refused for staff accounts, for an account
    already anonymized, and while an order still needs the address (unpaid or unshipped).
    """
    user = _customer(user_id, lock=True)
    if user.anonymized_at is not None:
        db.session.rollback()
        raise AlreadyAnonymized(user_id)
    orders = (
        db.session.execute(
            select(Order).where(_orders_of(user)).order_by(Order.id).with_for_update()
        )
        .scalars()
        .all()
    )
    in_progress = [o.number for o in orders if o.status in IN_PROGRESS]
    if in_progress:
        db.session.rollback()
        raise OrdersInProgress(in_progress)
    old_addresses = {user.email} | {o.email for o in orders}
    placeholder = placeholder_email(user.id)
    for order in orders:
        order.email = placeholder
        order.shipping_address = _scrubbed(order.shipping_address)
        order.billing_address = _scrubbed(order.billing_address)
    if orders:
        # A tracking number opens the parcel's delivery address at the carrier's site.
        db.session.execute(
            update(Shipment)
            .where(Shipment.order_id.in_([o.id for o in orders]))
            .values(tracking_number="", tracking_url=None)
        )
    carts = db.session.scalars(select(Cart).where(_carts_of(user))).all()
    cart_ids = [c.id for c in carts]
    for cart in carts:
        cart.email = None
        cart.recovery_consent_at = None
    if cart_ids:
        db.session.execute(
            CartRecoveryToken.__table__.delete().where(CartRecoveryToken.cart_id.in_(cart_ids))
        )
        db.session.execute(
            update(CartRecoveryEmail)
            .where(CartRecoveryEmail.cart_id.in_(cart_ids))
            .values(to_address=placeholder)
        )
    recipient = EmailMessage.to_address.in_(sorted(old_addresses))
    # Unsent mail is never sent now (FAILED is final); every mail loses its address and body,
    # which carry the name and addresses; kind, subject and dates remain.
    db.session.execute(
        update(EmailMessage)
        .where(recipient, EmailMessage.status == EmailStatus.PENDING)
        .values(status=EmailStatus.FAILED, last_error="recipient anonymized")
    )
    emails = db.session.execute(
        update(EmailMessage)
        .where(recipient)
        .values(to_address=placeholder, text_body="", html_body="")
        .execution_options(synchronize_session=False)
    ).rowcount
    messages = contact.forget_sender(old_addresses, placeholder)
    user.email = placeholder
    user.password_hash = "!anonymized:" + secrets.token_hex(16)  # no argon2 hash: never matches
    user.marketing_consent = False
    user.marketing_consent_at = None
    user.last_login_at = None
    user.is_active_account = False
    user.anonymized_at = utcnow()
    db.session.commit()
    return Anonymized(
        orders=len(orders), carts=len(carts), emails=emails, contact_messages=messages
    )
