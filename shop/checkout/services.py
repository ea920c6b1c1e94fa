"""Checkout: hold the cart's stock, price it for a destination, and place the order.

``place_order`` is one transaction: the cart row is locked (a double click finds the order
the first click made), stock holds are taken again if they lapsed, and the order, its
frozen lines, its tax lines, its payment and its ``order_placed`` event commit together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import aliased

from shop.accounts.models import utcnow
from shop.cart.models import Cart, CartEvent, CartEventKind, CartItem, CartStatus
from shop.catalogue.models import Product, ProductStatus, ProductTranslation, ProductVariant
from shop.checkout import shipping as shipping_rules
from shop.checkout import taxes as tax_rules
from shop.extensions import db
from shop.inventory import services as inventory
from shop.orders.models import Order, OrderLine, OrderStatus, OrderTaxLine
from shop.orders.services import next_number
from shop.outbox.services import emit
from shop.payments.models import Payment, PaymentStatus
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


def cart_lines(cart_id: int) -> list[QuoteLine]:
    """Current prices and both languages' titles for every line, in one query."""
    fr = aliased(ProductTranslation)
    en = aliased(ProductTranslation)
    rows = db.session.execute(
        select(CartItem, ProductVariant, Product, fr.title, en.title)
        .join(ProductVariant, ProductVariant.id == CartItem.variant_id)
        .join(Product, Product.id == ProductVariant.product_id)
        .outerjoin(fr, (fr.product_id == Product.id) & (fr.locale == "fr"))
        .outerjoin(en, (en.product_id == Product.id) & (en.locale == "en"))
        .where(CartItem.cart_id == cart_id)
        .order_by(CartItem.id)
    ).all()
    lines = []
    for item, variant, product, title_fr, title_en in rows:
        if product.status != ProductStatus.ACTIVE or not variant.is_active:
            raise ItemUnavailable(variant.id)
        lines.append(
            QuoteLine(
                variant_id=variant.id,
                product_id=product.id,
                sku=variant.sku,
                title_fr=title_fr or title_en or variant.sku,
                title_en=title_en or title_fr or variant.sku,
                variant_fr=variant.option_label("fr"),
                variant_en=variant.option_label("en"),
                quantity=item.quantity,
                unit_price=variant.price,
                tax_class=product.tax_class,
                tracked=variant.track_inventory,
                line_total=variant.price * item.quantity,
            )
        )
    return lines


def price(lines: list[QuoteLine], *, country: str, region: str, shipping_code: str) -> Quote:
    """Shipping and taxes for a destination (raises the rules' translated errors)."""
    include = prices_include_tax()
    subtotal = sum(line.line_total for line in lines)
    ship = shipping_rules.quote(shipping_code, country, subtotal)
    result = tax_rules.compute(
        country=country,
        region=region,
        prices_include_tax=include,
        lines=[(line.line_total, line.tax_class) for line in lines],
        shipping=(ship.price, ship.tax_class),
    )
    for line, tax in zip(lines, result.line_taxes, strict=True):
        line.tax_amount = tax
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


def _locked_cart(cart_id: int) -> Cart:
    cart = db.session.execute(
        select(Cart).where(Cart.id == cart_id).with_for_update()
    ).scalar_one_or_none()
    if cart is None:
        raise EmptyCart(cart_id)
    return cart


def start_checkout(cart_id: int) -> None:
    """Hold the cart's stock for the checkout (15 minutes by default, extended by activity)."""
    cart = _locked_cart(cart_id)
    if cart.status != CartStatus.ACTIVE:
        db.session.rollback()
        raise EmptyCart(cart_id)
    lines = cart_lines(cart_id)
    if not lines:
        db.session.rollback()
        raise EmptyCart(cart_id)
    try:
        inventory.hold_for_cart(
            cart_id,
            [(line.variant_id, line.quantity) for line in lines],
            tracked={line.variant_id for line in lines if line.tracked},
        )
    except inventory.OutOfStock as error:
        db.session.rollback()
        raise NoLongerAvailable(error.variant_ids) from error
    cart.last_activity_at = utcnow()
    db.session.add(CartEvent(cart_id=cart_id, kind=CartEventKind.CHECKOUT_STARTED))
    db.session.commit()


def keep_alive(cart_id: int) -> None:
    inventory.extend_holds(cart_id=cart_id)
    db.session.commit()


# -- placing the order ---------------------------------------------------------------------------


def place_order(cart_id: int, details: CheckoutDetails) -> Order:
    """Turn the cart into an order awaiting payment; a second call returns the same order."""
    if details.payment_method not in PAYMENT_METHODS:
        raise CheckoutError(details.payment_method)
    cart = _locked_cart(cart_id)
    if cart.status == CartStatus.CONVERTED and cart.converted_order_id:
        order = db.session.get(Order, cart.converted_order_id)
        db.session.rollback()
        return order
    if cart.status != CartStatus.ACTIVE:
        db.session.rollback()
        raise EmptyCart(cart_id)
    lines = cart_lines(cart_id)
    if not lines:
        db.session.rollback()
        raise EmptyCart(cart_id)
    shipping_address = details.shipping_address
    quote = price(
        lines,
        country=shipping_address["country"],
        region=shipping_address.get("region", ""),
        shipping_code=details.shipping_method,
    )
    tracked = {line.variant_id for line in lines if line.tracked}
    try:
        # Re-take the holds in one step: covers lapsed holds and a cart changed since.
        inventory.hold_for_cart(
            cart_id, [(line.variant_id, line.quantity) for line in lines], tracked=tracked
        )
    except inventory.OutOfStock as error:
        db.session.rollback()
        raise NoLongerAvailable(error.variant_ids) from error
    now = utcnow()
    order = Order(
        number=next_number(now),
        status=OrderStatus.PENDING_PAYMENT,
        customer_id=details.customer_id,
        cart_id=cart_id,
        email=details.email,
        locale=details.locale,
        currency=quote.currency,
        prices_include_tax=quote.prices_include_tax,
        subtotal=quote.subtotal,
        shipping_total=quote.shipping_total,
        tax_total=quote.tax_total,
        total=quote.total,
        shipping_address=shipping_address,
        billing_address=details.billing_address,
        shipping_method_code=quote.shipping.code,
        shipping_method_name={"fr": quote.shipping.name_fr, "en": quote.shipping.name_en},
        payment_method=details.payment_method,
        placed_at=now,
    )
    order.lines = [
        OrderLine(
            variant_id=line.variant_id,
            product_id=line.product_id,
            sku=line.sku,
            title_fr=line.title_fr,
            title_en=line.title_en,
            variant_fr=line.variant_fr,
            variant_en=line.variant_en,
            quantity=line.quantity,
            unit_price=line.unit_price,
            tax_class=line.tax_class,
            line_total=line.line_total,
            tax_amount=line.tax_amount,
        )
        for line in lines
    ]
    order.tax_lines = [
        OrderTaxLine(
            name_fr=c.name_fr,
            name_en=c.name_en,
            rate_ppm=c.rate_ppm,
            taxable_amount=c.taxable_amount,
            amount=c.amount,
            position=i,
        )
        for i, c in enumerate(quote.tax_components)
    ]
    db.session.add(order)
    db.session.flush()
    hold_days = current_app.config.get("BANK_TRANSFER_HOLD_DAYS", 7)
    until = (
        now + timedelta(days=hold_days)
        if details.payment_method == "bank_transfer"
        else now + timedelta(minutes=inventory.hold_minutes())
    )
    inventory.attach_holds_to_order(cart_id, order.id, until=until)
    if details.payment_method == "bank_transfer":
        db.session.add(
            Payment(
                order_id=order.id,
                provider="bank_transfer",
                status=PaymentStatus.PENDING,
                amount=order.total,
                currency=order.currency,
            )
        )
    cart.status = CartStatus.CONVERTED
    cart.converted_order_id = order.id
    cart.email = details.email
    emit(
        "order_placed",
        order_id=order.id,
        number=order.number,
        payment_method=details.payment_method,
    )
    db.session.commit()
    return order
