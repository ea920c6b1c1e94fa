"""Issuing invoices and credit notes: gapless legal numbers and an immutable snapshot.

Issuing and rendering are two steps on purpose. ``issue_invoice`` / ``issue_credit_note``
allocate the number and write the ``invoices`` row in one short transaction (the number and
the row commit together, or neither does: no gap). The PDF is rendered afterwards, once, by
a job (``shop.invoices.pdf.render_pending``), from the snapshot alone: the outbox handlers
of ``order_paid`` / ``order_refunded`` issue the document, defer that job and queue the mail
naming the document, which the mailer sends with the stored PDF once it exists.

Numbers: ``F-2026-000001`` for invoices, ``AV-2026-000001`` for credit notes (avoirs), one
sequence per series and calendar year (the year of the issue date in the shop's time zone,
the date printed on the document). The sequence row is locked by ``UPDATE ... RETURNING``
and stays locked until the issuing transaction ends, so concurrent issues queue up on it;
a rolled-back issue gives its number back. Never ``MAX() + 1``.

Amounts printed (integer minor units, like every amount in the shop):

- a line's total excluding tax is exact: ``line_total - tax_amount`` when prices include
  tax, ``line_total`` otherwise; its unit price excluding tax is that total divided by the
  quantity, rounded half up to the cent (so unit × quantity may differ from the line total
  by less than a cent per unit: the line total is the reference);
- the tax summary is the order's ``order_tax_lines`` as computed at checkout (one row per
  component: « TVA 20 % », or « TPS 5 % » and « TVQ 9,975 % » separately);
- each line's rates (and the shipping's) are the components it was charged at, kept on
  the order at checkout: the invoice never reads the tax rates, so a rate changed after
  the sale changes nothing on it (nor on its credit notes);
- totals: excluding tax = total − tax, tax, including tax = what the customer paid.

Credit notes show **positive amounts, labelled as credited** (the document's title is
« Avoir » / "Credit note" and it names the invoice it credits). A refund of the whole order
repeats the invoice's lines and taxes; a partial refund (an amount, not lines) is one line
« Remboursement partiel » with the tax split over the invoice's tax components in
proportion to their share of the order total, each rounded half up.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError

from shop.clock import utcnow
from shop.extensions import db
from shop.invoices.models import Invoice, InvoiceKind, InvoiceSequence
from shop.orders.models import Order, OrderStatus, Refund
from shop.orders.services import lock_order
from shop.platform.legal import IDENTITY_KEYS
from shop.platform.services import get_setting, set_setting

log = logging.getLogger("shop.invoices")
__all__ = ["issue_credit_note", "issue_invoice", "load_demo_identity"]

PAID_STATUSES = frozenset(
    {
        OrderStatus.PAID,
        OrderStatus.FULFILLED,
        OrderStatus.COMPLETED,
        OrderStatus.PARTIALLY_REFUNDED,
        OrderStatus.REFUNDED,
    }
)


class InvoiceError(Exception):
    message = _l("This invoice cannot be issued.")


class OrderNotPaid(InvoiceError):
    message = _l("An invoice is issued once the order is paid.")


class UnknownRefund(InvoiceError):
    pass


# -- store identity --------------------------------------------------------------------------


DEMO_IDENTITY = {
    # Fictional: the SIREN 000 000 000 is not attributable; the VAT key (12) and the
    # business number's check digit match it, as the settings page checks.
    "legal_name": "Comptoir Démo SAS",
    "legal_form": "SAS (société fictive de démonstration)",
    "share_capital": "100000",
    "legal_address": "1 rue de l’Exemple\n75001 Paris\nFrance",
    "siret": "000 000 000 00000",
    "vat_number": "FR12 000000000",
    "rcs": "RCS Paris 000 000 000",
    "gst_number": "000000000 RT0001",
    "qst_number": "0000000000 TQ0001",
    "legal_email": "factures@comptoir.example.com",
}


def load_demo_identity() -> list[str]:
    """Fill the seller's legal identity with clearly fictional values where it is unset."""
    added = [key for key in DEMO_IDENTITY if get_setting(key, "") == ""]
    for key in added:
        set_setting(key, DEMO_IDENTITY[key])
    return [f"invoices: demo legal identity ({len(added)} settings)"] if added else []


def seller_identity() -> dict[str, str]:
    identity = {key: get_setting(key, "") for key in IDENTITY_KEYS}
    identity["legal_name"] = identity["legal_name"] or current_app.config["SHOP_NAME"]
    return identity


# -- numbering -------------------------------------------------------------------------------


def _allocate(series: str, year: int) -> int:
    """The next number of a series: the sequence row stays locked until the caller commits."""
    for _ in range(3):
        value = db.session.execute(
            update(InvoiceSequence)
            .where(InvoiceSequence.series == series, InvoiceSequence.year == year)
            .values(last_value=InvoiceSequence.last_value + 1)
            .returning(InvoiceSequence.last_value)
        ).scalar_one_or_none()
        if value is not None:
            return value
        try:
            with db.session.begin_nested():
                db.session.execute(
                    insert(InvoiceSequence).values(series=series, year=year, last_value=0)
                )
        except IntegrityError:
            pass  # another transaction created this counter first: its row now exists
    raise RuntimeError(f"could not allocate a number in series {series} for {year}")


def _local_year(moment: datetime) -> int:
    return moment.astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).year


def _new(kind: str, order: Order, data: dict[str, Any], **refs: Any) -> Invoice:
    issued_at = utcnow()
    series = InvoiceKind.SERIES[kind]
    year = _local_year(issued_at)
    number = _allocate(series, year)
    full_number = f"{series}-{year}-{number:06d}"
    invoice = Invoice(
        kind=kind,
        series=series,
        year=year,
        number=number,
        full_number=full_number,
        order_id=order.id,
        locale=order.locale,
        issued_at=issued_at,
        data={**data, "number": full_number, "issued_at": issued_at.isoformat()},
        **refs,
    )
    db.session.add(invoice)
    db.session.flush()
    return invoice


# -- issuing ---------------------------------------------------------------------------------


def _locked_order(order_id: int) -> Order:
    order = lock_order(order_id)
    if order is None:
        raise InvoiceError(order_id)
    return order


def invoice_of(order_id: int) -> Invoice | None:
    return db.session.execute(
        db.select(Invoice).where(Invoice.order_id == order_id, Invoice.kind == InvoiceKind.INVOICE)
    ).scalar_one_or_none()


def _invoice_for_locked(order: Order) -> Invoice:
    """The order's invoice, issued now if it has none (the order row is locked)."""
    existing = invoice_of(order.id)
    if existing is not None:
        return existing
    if order.status not in PAID_STATUSES or order.paid_at is None:
        raise OrderNotPaid(order.id)
    return _new(InvoiceKind.INVOICE, order, invoice_data(order))


def issue_invoice(order_id: int) -> Invoice:
    """The order's invoice: issued (numbered, snapshotted) and committed on the first call,
    returned as is on the next ones. Raises ``OrderNotPaid`` for an unpaid order.

    The order row is locked first, so two workers issuing for the same order queue up and
    the second finds the first's invoice.
    """
    try:
        invoice = issue_invoice_in_transaction(order_id)
    except InvoiceError:
        db.session.rollback()
        raise
    db.session.commit()
    return invoice


def issue_invoice_in_transaction(order_id: int) -> Invoice:
    """``issue_invoice`` inside the caller's transaction, which commits it: the outbox
    handler of ``order_paid`` issues the invoice in the transaction that marks the event
    done, whether or not a mail is sent (an anonymized customer still gets their invoice
    on record). The sequence row stays locked until that commit, as ever."""
    return _invoice_for_locked(_locked_order(order_id))


def issue_credit_note(refund_id: int) -> Invoice:
    """The credit note for a refund, once per refund; it references the order's invoice,
    which is issued first in the same transaction when the refund overtook it."""
    try:
        note = issue_credit_note_in_transaction(refund_id)
    except InvoiceError:
        db.session.rollback()
        raise
    db.session.commit()
    return note


def issue_credit_note_in_transaction(refund_id: int) -> Invoice:
    """``issue_credit_note`` inside the caller's transaction (see
    ``issue_invoice_in_transaction``)."""
    refund = db.session.get(Refund, refund_id)
    if refund is None:
        raise UnknownRefund(refund_id)
    order = _locked_order(refund.order_id)
    existing = db.session.execute(
        db.select(Invoice).where(Invoice.refund_id == refund_id)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    invoice = _invoice_for_locked(order)
    return _new(
        InvoiceKind.CREDIT_NOTE,
        order,
        credit_note_data(invoice, refund),
        credits_invoice_id=invoice.id,
        refund_id=refund.id,
    )


# -- snapshots -------------------------------------------------------------------------------


def _div_half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def _buyer(order: Order) -> dict[str, Any]:
    address = order.billing_address or order.shipping_address
    name = " ".join(p for p in (address.get("first_name"), address.get("last_name")) if p)
    city_line = " ".join(p for p in (address.get("postal_code"), address.get("city")) if p)
    region = address.get("region") or ""
    lines = [address.get("line1", ""), address.get("line2", ""), city_line]
    return {
        "name": name,
        "company": address.get("company", ""),
        "address": [line for line in lines if line],
        "region": region,
        "country": address.get("country", ""),
        "email": order.email,
    }


def _rates(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A line's (or the shipping's) tax components as kept on the order at checkout."""
    return [{"fr": c["name_fr"], "en": c["name_en"], "rate_ppm": c["rate_ppm"]} for c in components]


def invoice_data(order: Order) -> dict[str, Any]:
    """Everything an invoice prints, frozen (see the module docstring for the amounts)."""
    lines = []
    for line in order.lines:
        excl = line.line_total - line.tax_amount if order.prices_include_tax else line.line_total
        lines.append(
            {
                "sku": line.sku,
                "title": {"fr": line.title_fr, "en": line.title_en},
                "variant": {"fr": line.variant_fr, "en": line.variant_en},
                "quantity": line.quantity,
                "unit_price_excl": _div_half_up(excl, line.quantity),
                "discount": 0,
                "total_excl": excl,
                "tax": line.tax_amount,
                "total_incl": excl + line.tax_amount,
                "rates": _rates(line.tax_components),
            }
        )
    lines_tax = sum(line.tax_amount for line in order.lines)
    shipping = None
    if order.shipping_total:
        shipping_tax = order.tax_total - lines_tax
        shipping_excl = (
            order.shipping_total - shipping_tax
            if order.prices_include_tax
            else order.shipping_total
        )
        shipping = {
            "name": dict(order.shipping_method_name),
            "total_excl": shipping_excl,
            "tax": shipping_tax,
            "total_incl": shipping_excl + shipping_tax,
            "rates": _rates(order.shipping_tax_components),
        }
    address = order.shipping_address
    return {
        "kind": InvoiceKind.INVOICE,
        "currency": order.currency,
        "seller": seller_identity(),
        "buyer": _buyer(order),
        "destination": {
            "country": address.get("country", ""),
            "region": address.get("region", ""),
        },
        "order": {
            "number": order.number,
            "placed_at": order.placed_at.isoformat() if order.placed_at else None,
        },
        "payment": {
            "method": order.payment_method,
            "paid_at": order.paid_at.isoformat() if order.paid_at else None,
        },
        "prices_include_tax": order.prices_include_tax,
        "lines": lines,
        "shipping": shipping,
        "taxes": [
            {
                "name": {"fr": t.name_fr, "en": t.name_en},
                "rate_ppm": t.rate_ppm,
                "base": t.taxable_amount,
                "amount": t.amount,
            }
            for t in order.tax_lines
        ],
        "totals": {
            "excl": order.total - order.tax_total,
            "tax": order.tax_total,
            "incl": order.total,
        },
    }


def credit_note_data(invoice: Invoice, refund: Refund) -> dict[str, Any]:
    """What the credit note prints: the invoice's parties, and the credited amounts
    (positive; see the module docstring)."""
    base = invoice.data
    total = base["totals"]["incl"]
    data = {
        key: base[key]
        for key in ("currency", "seller", "buyer", "destination", "order", "prices_include_tax")
    }
    data.update(
        kind=InvoiceKind.CREDIT_NOTE,
        credits={"number": invoice.full_number, "issued_at": base["issued_at"]},
        refund={
            "id": refund.id,
            "amount": refund.amount,
            "reason": refund.reason,
            "refunded_at": refund.created_at.isoformat(),
        },
        payment={"method": base["payment"]["method"], "paid_at": None},
    )
    if refund.amount == total:
        data.update(
            lines=base["lines"],
            shipping=base["shipping"],
            taxes=base["taxes"],
            totals=base["totals"],
        )
        return data
    taxes = [
        {
            **tax,
            "base": _div_half_up(tax["base"] * refund.amount, total),
            "amount": _div_half_up(tax["amount"] * refund.amount, total),
        }
        for tax in base["taxes"]
    ]
    tax_total = sum(tax["amount"] for tax in taxes)
    excl = refund.amount - tax_total
    data.update(
        lines=[
            {
                "sku": "",
                "title": {"fr": "Remboursement partiel", "en": "Partial refund"},
                "variant": {"fr": refund.reason, "en": refund.reason},
                "quantity": 1,
                "unit_price_excl": excl,
                "discount": 0,
                "total_excl": excl,
                "tax": tax_total,
                "total_incl": refund.amount,
                "rates": [
                    {"fr": t["name"]["fr"], "en": t["name"]["en"], "rate_ppm": t["rate_ppm"]}
                    for t in base["taxes"]
                ],
            }
        ],
        shipping=None,
        taxes=taxes,
        totals={"excl": excl, "tax": tax_total, "incl": refund.amount},
    )
    return data
