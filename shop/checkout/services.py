"""Checkout: hold the cart's stock, price it for a destination, and place the order.

``place_order`` is one transaction: the cart row is locked (a double click finds the order
the first click made), stock holds are taken again if they lapsed, and the order, its
frozen lines, its tax lines, its payment and its ``order_placed`` event commit together.
The lines and the shipping keep the tax components they were charged at: invoices print
those, never the tax rates of the day they are issued.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, bindparam, func, insert, select, update
from sqlalchemy.orm import make_transient_to_detached

from shop.cart.models import Cart, CartEvent, CartEventKind, CartItem, CartStatus
from shop.catalogue.models import (
    Product,
    ProductStatus,
    ProductTranslation,
    ProductVariant,
    option_label,
)
from shop.checkout import cache as checkout_cache
from shop.checkout import shipping as shipping_rules
from shop.checkout import taxes as tax_rules
from shop.clock import utcnow
from shop.extensions import db
from shop.inventory import services as inventory
from shop.inventory.models import InventoryReservation
from shop.orders.models import Order, OrderLine, OrderStatus, OrderTaxLine, Payment, PaymentStatus
from shop.orders.services import next_number
from shop.outbox.services import emit
from shop.platform.services import prices_include_tax

PAYMENT_METHODS = ("card", "bank_transfer")


class CheckoutError(Exception):
    message = _l("Your order could not be placed. Please check it and try again.")


class EmptyCart(CheckoutError):
    message = _l("Your basket is empty.")


class ItemUnavailable(CheckoutError):
    message = _l("An item in your basket is no longer sold. Please remove it to continue.")


class NoLongerAvailable(CheckoutError):
    message = _l(
        "Sorry, an item in your basket is no longer available in the quantity you chose. "
        "Please update your basket."
    )

    def __init__(self, variant_ids: list[int]) -> None:
        super().__init__(variant_ids)
        self.variant_ids = variant_ids


class OrderTooLarge(CheckoutError):
    message = _l(
        "This order is too large to be placed online. Please split it, or contact us to arrange it."
    )


# Amounts are stored in 32-bit integer columns (minor units): an order above this cannot be
# written, so it is refused with a message rather than failing in the database.
MAX_ORDER_AMOUNT = 2_000_000_000


@dataclass
class QuoteLine:
    variant_id: int
    product_id: int
    sku: str
    title_fr: str
    title_en: str
    variant_fr: str
    variant_en: str
    quantity: int
    unit_price: int
    tax_class: str
    tracked: bool
    line_total: int
    tax_amount: int = 0
    tax_components: tuple[tax_rules.ComponentKey, ...] = ()

    def title(self, locale: str) -> str:
        return self.title_fr if locale == "fr" else self.title_en

    def variant(self, locale: str) -> str:
        return self.variant_fr if locale == "fr" else self.variant_en


@dataclass
class Quote:
    lines: list[QuoteLine]
    shipping: Any  # shipping_rules.ShippingQuote
    taxes: Any  # tax_rules.TaxResult
    prices_include_tax: bool
    currency: str
    subtotal: int = 0
    shipping_total: int = 0
    tax_total: int = 0
    total: int = 0
    tax_components: list[Any] = field(default_factory=list)


@dataclass
class CheckoutDetails:
    email: str
    shipping_address: dict[str, Any]
    billing_address: dict[str, Any]
    shipping_method: str
    payment_method: str
    locale: str
    customer_id: int | None = None


# -- the cart's content, priced ---------------------------------------------------------------
# Prebuilt Core statements: every order runs them, and building a SELECT per call costs more
# than running it.

_carts = Cart.__table__
_cart_items = CartItem.__table__
_variants = ProductVariant.__table__
_products = Product.__table__
_holds = InventoryReservation.__table__
_title_fr = ProductTranslation.__table__.alias("title_fr")
_title_en = ProductTranslation.__table__.alias("title_en")


def _lines_query() -> Select[Any]:
    """Current prices and both languages' titles for every line of ``:cart_id``."""
    return (
        select(
            _variants.c.id,
            _variants.c.product_id,
            _variants.c.sku,
            _variants.c.price,
            _variants.c.options,
            _variants.c.is_active,
            _variants.c.track_inventory,
            _products.c.status,
            _products.c.tax_class,
            _title_fr.c.title.label("title_fr"),
            _title_en.c.title.label("title_en"),
            _cart_items.c.quantity,
        )
        .select_from(
            _cart_items.join(_variants, _variants.c.id == _cart_items.c.variant_id)
            .join(_products, _products.c.id == _variants.c.product_id)
            .outerjoin(
                _title_fr,
                (_title_fr.c.product_id == _products.c.id) & (_title_fr.c.locale == "fr"),
            )
            .outerjoin(
                _title_en,
                (_title_en.c.product_id == _products.c.id) & (_title_en.c.locale == "en"),
            )
        )
        .where(_cart_items.c.cart_id == bindparam("cart_id"))
        .order_by(_cart_items.c.id)
    )


_LINES = _lines_query()
# start_checkout: with the number of holds the cart has (none, unless a checkout is open).
_LINES_AND_HOLDS = _lines_query().add_columns(
    select(func.count(_holds.c.id))
    .where(_holds.c.cart_id == bindparam("cart_id"), _holds.c.order_id.is_(None))
    .scalar_subquery()
    .label("holds")
)
# place_order: the lines with the cart's state, the cart row locked (a double click waits,
# then sees the order the first click made).
_LOCKED_CART_LINES = (
    _lines_query()
    .add_columns(_carts.c.status.label("cart_status"), _carts.c.converted_order_id)
    .join(_carts, _carts.c.id == _cart_items.c.cart_id)
    .with_for_update(of=_carts)
)
_TOUCH_ACTIVE_CART = (
    update(_carts)
    .where(_carts.c.id == bindparam("cart_id"), _carts.c.status == CartStatus.ACTIVE)
    .values(last_activity_at=bindparam("now"))
    .returning(_carts.c.id)
)


def _quote_lines(rows: Sequence[Any]) -> list[QuoteLine]:
    lines = []
    for row in rows:
        if row.status != ProductStatus.ACTIVE or not row.is_active:
            raise ItemUnavailable(row.id)
        title_fr, title_en = row.title_fr, row.title_en
        lines.append(
            QuoteLine(
                variant_id=row.id,
                product_id=row.product_id,
                sku=row.sku,
                title_fr=title_fr or title_en or row.sku,
                title_en=title_en or title_fr or row.sku,
                variant_fr=option_label(row.options, "fr"),
                variant_en=option_label(row.options, "en"),
                quantity=row.quantity,
                unit_price=row.price,
                tax_class=row.tax_class,
                tracked=row.track_inventory,
                line_total=row.price * row.quantity,
            )
        )
    return lines


def cart_lines(cart_id: int) -> list[QuoteLine]:
    """Current prices and both languages' titles for every line, in one query."""
    return _quote_lines(db.session.execute(_LINES, {"cart_id": cart_id}).all())


def price(lines: list[QuoteLine], *, country: str, region: str, shipping_code: str) -> Quote:
    """Shipping and taxes for a destination (raises the rules' translated errors)."""
    include = checkout_cache.cached(("prices_include_tax",), prices_include_tax)
    subtotal = sum(line.line_total for line in lines)
    ship = shipping_rules.quote(shipping_code, country, subtotal)
    result = tax_rules.compute(
        country=country,
        region=region,
        prices_include_tax=include,
        lines=[(line.line_total, line.tax_class) for line in lines],
        shipping=(ship.price, ship.tax_class),
    )
    if max(subtotal, result.total) > MAX_ORDER_AMOUNT:
        raise OrderTooLarge(subtotal)
    for line, taxed in zip(lines, result.lines, strict=True):
        line.tax_amount = taxed.tax
        line.tax_components = taxed.components
    return Quote(
        lines=lines,
        shipping=ship,
        taxes=result,
        prices_include_tax=include,
        currency=current_app.config["SHOP_CURRENCY"],
        subtotal=subtotal,
        shipping_total=ship.price,
        tax_total=result.tax_total,
        total=result.total,
        tax_components=list(result.components),
    )


def quote_cart(cart_id: int, *, country: str, region: str, shipping_code: str) -> Quote:
    lines = cart_lines(cart_id)
    if not lines:
        raise EmptyCart(cart_id)
    return price(lines, country=country, region=region, shipping_code=shipping_code)


# -- holds ---------------------------------------------------------------------------------------


def start_checkout(cart_id: int) -> None:
    """Hold the cart's stock for the checkout (15 minutes by default, extended by activity)."""
    now = utcnow()
    try:
        # The UPDATE locks the cart row (as FOR UPDATE would) and records the activity.
        if db.session.execute(_TOUCH_ACTIVE_CART, {"cart_id": cart_id, "now": now}).first() is None:
            raise EmptyCart(cart_id)
        rows = db.session.execute(_LINES_AND_HOLDS, {"cart_id": cart_id}).all()
        if not rows:
            raise EmptyCart(cart_id)
        lines = _quote_lines(rows)
        inventory.hold_for_cart(
            cart_id,
            [(line.variant_id, line.quantity) for line in lines],
            tracked={line.variant_id for line in lines if line.tracked},
            now=now,
            has_holds=rows[0].holds > 0,
        )
    except inventory.OutOfStock as error:
        db.session.rollback()
        raise NoLongerAvailable(error.variant_ids) from error
    except CheckoutError:
        db.session.rollback()
        raise
    db.session.execute(
        insert(CartEvent.__table__),
        {"cart_id": cart_id, "kind": CartEventKind.CHECKOUT_STARTED, "at": now},
    )
    db.session.commit()


def keep_alive(cart_id: int) -> None:
    inventory.extend_holds(cart_id=cart_id)
    db.session.commit()


# -- placing the order ---------------------------------------------------------------------------


_orders = Order.__table__
_INSERT_ORDER = insert(_orders).returning(_orders.c.id)
_CONVERT_CART = (
    update(_carts)
    .where(_carts.c.id == bindparam("cart_id"))
    .values(
        status=CartStatus.CONVERTED,
        converted_order_id=bindparam("order"),
        email=bindparam("buyer_email"),
    )
)


def _applied(components: Sequence[tax_rules.ComponentKey]) -> list[dict[str, Any]]:
    """Tax components as kept on the order (its lines' and its shipping's): the invoices
    print them whatever the tax rates become."""
    return [
        {"name_fr": name_fr, "name_en": name_en, "rate_ppm": rate_ppm}
        for name_fr, name_en, rate_ppm in components
    ]


def place_order(cart_id: int, details: CheckoutDetails) -> Order:
    """Turn the cart into an order awaiting payment; a second call returns the same order.

    One transaction, and about ten statements whatever the number of lines: the cart's lines
    with the cart row locked, the order number, the order, its lines and tax lines (one
    INSERT each), the holds taken over in one UPDATE, the payment, the cart, the event.
    """
    if details.payment_method not in PAYMENT_METHODS:
        raise CheckoutError(details.payment_method)
    try:
        return _place_order(cart_id, details)
    except inventory.OutOfStock as error:
        db.session.rollback()
        raise NoLongerAvailable(error.variant_ids) from error
    except Exception:
        db.session.rollback()  # no lock kept past a refusal
        raise


def _place_order(cart_id: int, details: CheckoutDetails) -> Order:
    rows = db.session.execute(_LOCKED_CART_LINES, {"cart_id": cart_id}).all()
    if not rows:
        raise EmptyCart(cart_id)
    cart_status, converted_order_id = rows[0].cart_status, rows[0].converted_order_id
    if cart_status == CartStatus.CONVERTED and converted_order_id:
        order = db.session.get(Order, converted_order_id)
        db.session.rollback()
        return order
    if cart_status != CartStatus.ACTIVE:
        raise EmptyCart(cart_id)
    lines = _quote_lines(rows)
    shipping_address = details.shipping_address
    quote = price(
        lines,
        country=shipping_address["country"],
        region=shipping_address.get("region", ""),
        shipping_code=details.shipping_method,
    )
    now = utcnow()
    values: dict[str, Any] = {
        "number": next_number(now),
        "status": OrderStatus.PENDING_PAYMENT,
        "customer_id": details.customer_id,
        "cart_id": cart_id,
        "email": details.email,
        "locale": details.locale,
        "currency": quote.currency,
        "prices_include_tax": quote.prices_include_tax,
        "subtotal": quote.subtotal,
        "shipping_total": quote.shipping_total,
        "tax_total": quote.tax_total,
        "total": quote.total,
        "amount_refunded": 0,
        "shipping_address": shipping_address,
        "billing_address": details.billing_address,
        "shipping_method_code": quote.shipping.code,
        "shipping_method_name": {"fr": quote.shipping.name_fr, "en": quote.shipping.name_en},
        "payment_method": details.payment_method,
        "shipping_tax_components": _applied(quote.taxes.shipping.components),
        "tax_rates_backfilled": False,
        "created_at": now,
        "placed_at": now,
        "paid_at": None,
        "cancelled_at": None,
        "updated_at": now,
    }
    order_id = db.session.execute(_INSERT_ORDER, values).scalar_one()
    db.session.execute(
        insert(OrderLine.__table__),
        [
            {
                "order_id": order_id,
                "variant_id": line.variant_id,
                "product_id": line.product_id,
                "sku": line.sku,
                "title_fr": line.title_fr,
                "title_en": line.title_en,
                "variant_fr": line.variant_fr,
                "variant_en": line.variant_en,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "tax_class": line.tax_class,
                "line_total": line.line_total,
                "tax_amount": line.tax_amount,
                "tax_components": _applied(line.tax_components),
                "quantity_refunded": 0,
            }
            for line in lines
        ],
    )
    if quote.tax_components:
        db.session.execute(
            insert(OrderTaxLine.__table__),
            [
                {
                    "order_id": order_id,
                    "name_fr": c.name_fr,
                    "name_en": c.name_en,
                    "rate_ppm": c.rate_ppm,
                    "taxable_amount": c.taxable_amount,
                    "amount": c.amount,
                    "position": i,
                }
                for i, c in enumerate(quote.tax_components)
            ],
        )
    hold_days = current_app.config.get("BANK_TRANSFER_HOLD_DAYS", 7)
    until = (
        now + timedelta(days=hold_days)
        if details.payment_method == "bank_transfer"
        else now + timedelta(minutes=inventory.hold_minutes())
    )
    # Re-checks the stock: covers holds that lapsed and a cart changed since the checkout.
    inventory.claim_cart_holds(
        cart_id,
        order_id,
        [(line.variant_id, line.quantity) for line in lines],
        tracked={line.variant_id for line in lines if line.tracked},
        until=until,
        now=now,
    )
    if details.payment_method == "bank_transfer":
        db.session.execute(
            insert(Payment.__table__),
            {
                "order_id": order_id,
                "provider": "bank_transfer",
                "status": PaymentStatus.PENDING,
                "amount": quote.total,
                "currency": quote.currency,
                "created_at": now,
            },
        )
    db.session.execute(
        _CONVERT_CART, {"cart_id": cart_id, "order": order_id, "buyer_email": details.email}
    )
    emit(
        "order_placed",
        order_id=order_id,
        number=values["number"],
        payment_method=details.payment_method,
    )
    db.session.commit()
    # The order as just written, known to the session without reading it back (its lines
    # load on first use).
    order = Order(id=order_id, **values)
    make_transient_to_detached(order)
    db.session.add(order)
    return order


# -- delivery methods for a cart -----------------------------------------------------------------


@dataclass(frozen=True)
class ShippingOptions:
    """The delivery methods that can take a cart to a country, in the staff's order, each
    priced for the cart's goods; with the lines and the subtotal they were priced for."""

    lines: list[QuoteLine]
    subtotal: int
    methods: list[shipping_rules.ShippingQuote]

    def offers(self, code: str) -> bool:
        """Whether ``code`` may deliver this cart there, whatever it costs (a method free
        from 60 € is offered below 60 € too, at its price)."""
        return any(method.code == code for method in self.methods)


def shipping_options(cart_id: int, country: str) -> ShippingOptions:
    """The cart's lines at their current prices and the methods serving ``country`` (none
    without a country), a "free from 60 €" promise read against the cart's subtotal.
    Raises ``ItemUnavailable`` when an item is no longer sold."""
    lines = cart_lines(cart_id)
    subtotal = sum(line.line_total for line in lines)
    methods = shipping_rules.available_methods(country, subtotal) if country else []
    return ShippingOptions(lines=lines, subtotal=subtotal, methods=methods)
