"""The cart: one active cart per visitor, lines with a price snapshot, stock and per-line rules.

Guests are known by a random token (signed into their cookie by the web layer), customers by
their id. Every change locks the cart row (``SELECT ... FOR UPDATE``), so two clicks on the
same button cannot race; the ``(cart_id, variant_id)`` unique constraint backs that up.
A refused change rolls back: the database is left exactly as it was.

Prices: a line remembers the price it was added at (``unit_price``) but the cart always
charges the CURRENT price. When the two differ the cart shows a notice; showing the cart to
the shopper (``accept_current_prices``) records the current prices as seen, so the notice
appears once per change. Adding more of a variant also takes its current price.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import (
    Select,
    String,
    Update,
    and_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from shop.accounts.models import User
from shop.cart.models import Cart, CartEvent, CartEventKind, CartItem, CartStatus
from shop.catalogue.models import (
    Product,
    ProductImage,
    ProductStatus,
    ProductTranslation,
    ProductVariant,
)
from shop.clock import utcnow
from shop.config import LOCALES
from shop.extensions import db
from shop.inventory import services as inventory
from shop.inventory.models import InventoryItem, InventoryReservation

SIGNING_SALT = "comptoir.cart"
DEFAULT_MAX_PER_LINE = 10


# -- errors ------------------------------------------------------------------------------


class CartError(Exception):
    """A change the shopper asked for and we refuse; ``message`` is for them (translated
    when shown: read it in a request, or inside ``force_locale``)."""

    message: Any = _l("Your cart could not be changed.")


class QuantityInvalid(CartError):
    message = _l("Please choose a quantity of at least 1.")


class NotEnoughStock(CartError):
    def __init__(self, available: int) -> None:
        super().__init__(available)
        self.available = available

    @property
    def message(self) -> str:  # type: ignore[override]
        if self.available <= 0:
            return _("Sorry, this item is out of stock.")
        return ngettext(
            "Sorry, only %(num)d is left in stock.",
            "Sorry, only %(num)d are left in stock.",
            self.available,
        )


class TooManyForOneLine(CartError):
    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit

    @property
    def message(self) -> str:  # type: ignore[override]
        return ngettext(
            "You can have at most %(num)d of this item in your cart.",
            "You can have at most %(num)d of this item in your cart.",
            self.limit,
        )


class VariantUnavailable(CartError):
    """Unknown, inactive, or its product is a draft or archived."""

    message = _l("Sorry, this item is not available.")


class ItemNotFound(CartError):
    message = _l("This item is no longer in your cart.")


class CartNotFound(CartError):
    message = _l("Your cart could not be found. It may already have been ordered.")


class CartTokenInvalid(CartError):
    message = _l("Your cart could not be read, so it has been emptied. Please try again.")


# -- tokens ------------------------------------------------------------------------------


def make_token() -> str:
    return secrets.token_urlsafe(32)


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SIGNING_SALT)


def sign_token(token: str) -> str:
    return _serializer().dumps(token)


def read_signed_token(value: str) -> str:
    """The token inside a signed cookie value; ``CartTokenInvalid`` if it was tampered with."""
    try:
        token = _serializer().loads(value)
    except BadSignature as error:
        raise CartTokenInvalid() from error
    if not isinstance(token, str) or not 0 < len(token) <= 64:
        raise CartTokenInvalid()
    return token


def max_per_line() -> int:
    return int(current_app.config.get("CART_MAX_PER_LINE", DEFAULT_MAX_PER_LINE))


# -- finding carts -----------------------------------------------------------------------


def _owner_filter(token: str | None, customer_id: int | None) -> Any:
    """A customer's cart by id; a guest's by token, and only a cart no customer owns."""
    if customer_id is not None:
        return Cart.customer_id == customer_id
    return and_(Cart.token == token, Cart.customer_id.is_(None))


def find_cart(*, token: str | None, customer_id: int | None) -> Cart | None:
    """The visitor's open cart (active, or abandoned: still theirs, and any change makes it
    active again); the token is ignored when the customer is known."""
    if token is None and customer_id is None:
        return None
    return db.session.execute(
        select(Cart).where(_owner_filter(token, customer_id), Cart.status.in_(CartStatus.OPEN))
    ).scalar_one_or_none()


def item_count(*, token: str | None, customer_id: int | None) -> int:
    """Units in the visitor's active cart (0 without one): one small query, none for nobody."""
    if token is None and customer_id is None:
        return 0
    total = db.session.execute(
        select(func.sum(CartItem.quantity))
        .join(Cart, Cart.id == CartItem.cart_id)
        .where(_owner_filter(token, customer_id), Cart.status.in_(CartStatus.OPEN))
    ).scalar()
    return int(total or 0)


def get_or_create_cart(
    *, token: str | None, customer_id: int | None, locale: str, email: str | None = None
) -> Cart:
    """The visitor's active cart, or a new one (with a fresh token: a stale token from the
    cookie is never reused).

    Does not commit: the change that follows (``add_item``) commits the new cart with its
    first line, or rolls both back, so a refused first add leaves no empty cart behind.
    """
    cart = find_cart(token=token, customer_id=customer_id)
    if cart is None:
        cart = Cart(
            token=make_token(),
            customer_id=customer_id,
            status=CartStatus.ACTIVE,
            locale=locale,
            email=email,
        )
        db.session.add(cart)
        try:
            db.session.flush()
        except IntegrityError:
            # The same customer's other request created their cart first.
            db.session.rollback()
            cart = find_cart(token=token, customer_id=customer_id)
            if cart is None:
                raise
    if cart.locale != locale:
        cart.locale = locale
    if email and cart.email != email:
        cart.email = email
    return cart


# -- changing a cart ---------------------------------------------------------------------
# Adding to the cart is the shop's busiest write, so changes run prebuilt Core statements:
# one UPDATE locks the cart row (as FOR UPDATE would) and records the activity, one SELECT
# reads the variant, its stock, the cart's line for it, the cart's units and whether the
# cart holds stock, then the line and the event are written.

_carts = Cart.__table__
_lines = CartItem.__table__
_events = CartEvent.__table__
_variants = ProductVariant.__table__
_products = Product.__table__
_stock_items = InventoryItem.__table__
_holds = InventoryReservation.__table__
_units_lines = _lines.alias("units_lines")


def _lock_statement(*owner: Any) -> Update:
    """The open cart matching ``owner``, locked and marked active: its id, token and customer."""
    return (
        update(_carts)
        .where(*owner, _carts.c.status.in_(CartStatus.OPEN))
        .values(
            # Any change makes an abandoned cart active again (see ``Cart.mark_active``).
            status=CartStatus.ACTIVE,
            abandoned_at=None,
            last_activity_at=bindparam("now"),
            locale=func.coalesce(bindparam("new_locale", type_=String), _carts.c.locale),
            email=func.coalesce(bindparam("new_email", type_=String), _carts.c.email),
        )
        .returning(_carts.c.id, _carts.c.token, _carts.c.customer_id)
    )


_LOCK_BY_ID = _lock_statement(_carts.c.id == bindparam("cart"))
_LOCK_GUEST_CART = _lock_statement(
    _carts.c.token == bindparam("guest_token"), _carts.c.customer_id.is_(None)
)
_LOCK_CUSTOMER_CART = _lock_statement(_carts.c.customer_id == bindparam("customer"))
_NEW_CART = insert(_carts).returning(_carts.c.id, _carts.c.token, _carts.c.customer_id)


def _stock_statement(*where: Any) -> Select[Any]:
    """The variant's price, whether it is for sale, its free stock, this cart's line for it,
    the units in the cart and whether the cart holds stock (an open checkout)."""
    return (
        select(
            _variants.c.id.label("variant_id"),
            _variants.c.price,
            and_(_variants.c.is_active, _products.c.status == ProductStatus.ACTIVE).label(
                "purchasable"
            ),
            _variants.c.track_inventory.label("tracked"),
            (_stock_items.c.on_hand - _stock_items.c.reserved).label("left"),
            _lines.c.id.label("line_id"),
            _lines.c.quantity.label("line_quantity"),
            select(func.coalesce(func.sum(_units_lines.c.quantity), 0))
            .where(_units_lines.c.cart_id == bindparam("cart"))
            .scalar_subquery()
            .label("units"),
            exists()
            .where(_holds.c.cart_id == bindparam("cart"), _holds.c.order_id.is_(None))
            .label("held"),
        )
        .select_from(
            _variants.join(_products, _products.c.id == _variants.c.product_id)
            .outerjoin(_stock_items, _stock_items.c.variant_id == _variants.c.id)
            .outerjoin(
                _lines,
                and_(_lines.c.variant_id == _variants.c.id, _lines.c.cart_id == bindparam("cart")),
            )
        )
        .where(*where)
    )


_STOCK_OF_VARIANT = _stock_statement(_variants.c.id == bindparam("variant"))
_STOCK_OF_LINE = _stock_statement(_lines.c.id == bindparam("line"))
_SET_LINE = (
    update(_lines)
    .where(_lines.c.id == bindparam("line"))
    .values(quantity=bindparam("new_quantity"), unit_price=bindparam("price"))
)
_SET_LINE_QUANTITY = (
    update(_lines)
    .where(_lines.c.id == bindparam("line"))
    .values(quantity=bindparam("new_quantity"))
)
_NEW_LINE = insert(_lines)
_DELETE_LINE = (
    delete(_lines)
    .where(_lines.c.id == bindparam("line"), _lines.c.cart_id == bindparam("cart"))
    .returning(_lines.c.variant_id, _lines.c.quantity)
)
_NEW_EVENT = insert(_events)


@dataclass(frozen=True)
class Added:
    """An add that went through: the cart (made on a visitor's first add) and the units it
    now holds (the header badge)."""

    cart_id: int
    token: str
    customer_id: int | None
    units: int

    @property
    def guest_token(self) -> str | None:
        """The token for the cookie: guests only (customers need none)."""
        return self.token if self.customer_id is None else None


def _locked(statement: Update, params: dict[str, Any], locale: str | None, email: str | None):
    return db.session.execute(
        statement,
        {**params, "now": utcnow(), "new_locale": locale or None, "new_email": email or None},
    ).first()


def _lock(cart_id: int, locale: str | None = None) -> Any:
    cart = _locked(_LOCK_BY_ID, {"cart": cart_id}, locale, None)
    if cart is None:
        raise _refused(CartNotFound())
    return cart


def _release_holds(cart_id: int) -> None:
    """A changed cart gives back the stock its checkout was holding."""
    inventory.release_cart_holds(cart_id, commit=False)


def _stock_row(statement: Select[Any], params: dict[str, Any], error: CartError) -> Any:
    """The stock row, after giving back the cart's holds if it has some (they count as free
    stock for this cart); ``error`` when there is no such variant or line."""
    row = db.session.execute(statement, params).first()
    if row is not None and row.held:
        _release_holds(params["cart"])
        row = db.session.execute(statement, params).first()
    if row is None:
        raise _refused(error)
    return row


def _available(row: Any) -> int | None:
    """Free units for a stock row (None: not tracked, no limit)."""
    return max(row.left or 0, 0) if row.tracked else None


def _check(row: Any, quantity: int) -> None:
    """The tighter of the two caps speaks: stock when fewer are left than the line maximum."""
    if not row.purchasable:
        raise VariantUnavailable()
    limit = max_per_line()
    available = _available(row)
    if available is not None and available < limit and quantity > available:
        raise NotEnoughStock(available)
    if quantity > limit:
        raise TooManyForOneLine(limit)


def _touch(cart: Cart, locale: str | None) -> None:
    cart.mark_active()
    if locale and cart.locale != locale:
        cart.locale = locale


def _record(cart_id: int, kind: str, variant_id: int | None, quantity: int | None) -> None:
    db.session.execute(
        _NEW_EVENT,
        {
            "cart_id": cart_id,
            "kind": kind,
            "variant_id": variant_id,
            "quantity": quantity,
            "at": utcnow(),
        },
    )


def _refused(error: CartError) -> CartError:
    db.session.rollback()
    return error


def add_to_cart(
    *,
    token: str | None,
    customer_id: int | None,
    variant_id: int,
    quantity: int,
    locale: str,
    email: str | None = None,
) -> Added:
    """Add ``quantity`` units to the visitor's open cart, made on their first add (with a
    fresh token: a stale token from the cookie is never reused). One transaction: a refused
    first add leaves no empty cart behind."""
    if quantity < 1:
        raise _refused(QuantityInvalid())
    for attempt in (1, 2):
        cart = None
        if customer_id is not None:
            cart = _locked(_LOCK_CUSTOMER_CART, {"customer": customer_id}, locale, email)
        elif token is not None:
            cart = _locked(_LOCK_GUEST_CART, {"guest_token": token}, locale, email)
        try:
            if cart is None:
                now = utcnow()
                cart = db.session.execute(
                    _NEW_CART,
                    {
                        "token": make_token(),
                        "customer_id": customer_id,
                        "status": CartStatus.ACTIVE,
                        "locale": locale,
                        "email": email,
                        "created_at": now,
                        "last_activity_at": now,
                    },
                ).one()
            return _add(cart, variant_id, quantity)
        except IntegrityError:
            # The same customer's other request made their cart, or added this variant,
            # first: start again on theirs, once.
            db.session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def add_item(cart_id: int, variant_id: int, quantity: int, *, locale: str | None = None) -> Added:
    """Add ``quantity`` units, to the variant's line if the cart has one (at today's price)."""
    if quantity < 1:
        raise _refused(QuantityInvalid())
    for attempt in (1, 2):
        cart = _lock(cart_id, locale)
        try:
            return _add(cart, variant_id, quantity)
        except IntegrityError:
            db.session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _add(cart: Any, variant_id: int, quantity: int) -> Added:
    """The cart row is locked: add to its line for the variant, or make one. Commits."""
    row = _stock_row(
        _STOCK_OF_VARIANT, {"cart": cart.id, "variant": variant_id}, VariantUnavailable()
    )
    had = row.line_quantity or 0
    try:
        _check(row, had + quantity)
    except CartError as error:
        raise _refused(error) from None
    if row.line_id is None:
        db.session.execute(
            _NEW_LINE,
            {
                "cart_id": cart.id,
                "variant_id": variant_id,
                "quantity": quantity,
                "unit_price": row.price,
                "added_at": utcnow(),
            },
        )
    else:
        db.session.execute(
            _SET_LINE, {"line": row.line_id, "new_quantity": had + quantity, "price": row.price}
        )
    _record(cart.id, CartEventKind.ADDED, variant_id, quantity)
    db.session.commit()
    return Added(cart.id, cart.token, cart.customer_id, units=int(row.units) + quantity)


def set_quantity(cart_id: int, item_id: int, quantity: int, *, locale: str | None = None) -> None:
    if quantity < 1:
        raise _refused(QuantityInvalid())
    _lock(cart_id, locale)
    row = _stock_row(_STOCK_OF_LINE, {"cart": cart_id, "line": item_id}, ItemNotFound())
    try:
        _check(row, quantity)
    except CartError as error:
        raise _refused(error) from None
    if row.line_quantity != quantity:
        db.session.execute(_SET_LINE_QUANTITY, {"line": item_id, "new_quantity": quantity})
        _record(cart_id, CartEventKind.UPDATED, row.variant_id, quantity)
    db.session.commit()


def remove_item(cart_id: int, item_id: int, *, locale: str | None = None) -> None:
    _lock(cart_id, locale)
    line = db.session.execute(_DELETE_LINE, {"line": item_id, "cart": cart_id}).first()
    if line is None:
        raise _refused(ItemNotFound())
    _release_holds(cart_id)
    _record(cart_id, CartEventKind.REMOVED, line.variant_id, line.quantity)
    db.session.commit()


def reactivate(cart_id: int) -> bool:
    """An abandoned cart whose shopper is back (at the checkout, say) is active again, so
    its reminders stop. One UPDATE, and nothing for a cart in any other state. Commits."""
    result = db.session.execute(
        update(Cart)
        .where(Cart.id == cart_id, Cart.status == CartStatus.ABANDONED)
        .values(status=CartStatus.ACTIVE, abandoned_at=None, last_activity_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return bool(result.rowcount)


def accept_current_prices(cart_id: int) -> int:
    """The shopper has seen today's prices: they become the lines' snapshots."""
    current = (
        select(ProductVariant.price)
        .where(ProductVariant.id == CartItem.variant_id)
        .scalar_subquery()
    )
    result = db.session.execute(
        update(CartItem)
        .where(CartItem.cart_id == cart_id, CartItem.unit_price != current)
        .values(unit_price=current)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount


def merge_on_login(guest_token: str | None, customer_id: int) -> Cart | None:
    """The guest's cart joins the customer's at login.

    Without an active cart of their own the customer simply takes the guest cart. Otherwise
    each guest line is added to theirs: quantities summed, capped by the per-line maximum and
    the stock (never below what the customer already had); lines no longer for sale stay
    behind. The guest cart becomes MERGED. Returns the customer's cart, or None when there
    was no guest cart to merge.
    """
    if not guest_token:
        return None
    carts = _lock_open_carts(_owner_filter(guest_token, None), Cart.customer_id == customer_id)
    guest = next((c for c in carts if c.customer_id is None), None)
    own = next((c for c in carts if c.customer_id == customer_id), None)
    if guest is None:
        db.session.rollback()
        return None
    email = db.session.execute(select(User.email).where(User.id == customer_id)).scalar()
    if own is None:
        guest.customer_id = customer_id
        guest.email = guest.email or email
        _touch(guest, None)
        _record(guest.id, CartEventKind.MERGED, None, guest.quantity)
        db.session.commit()
        return guest
    _merge_lines(guest, own)
    own.email = own.email or email
    db.session.commit()
    return own


def merge_guest_carts(source_token: str, target_cart_id: int) -> bool:
    """A guest who opens a recovery link while holding another cart in this browser: that
    cart's lines join the recovered one (the same rules as at login) and it becomes MERGED,
    so nothing they had picked is lost. False, changing nothing, when there is no such other
    open guest cart or it is the target itself."""
    carts = _lock_open_carts(_owner_filter(source_token, None), Cart.id == target_cart_id)
    source = next((c for c in carts if c.token == source_token and c.customer_id is None), None)
    target = next((c for c in carts if c.id == target_cart_id), None)
    if source is None or target is None or source.id == target.id:
        db.session.rollback()
        return False
    _merge_lines(source, target)
    target.email = target.email or source.email
    db.session.commit()
    return True


def _lock_open_carts(*either: Any) -> list[Cart]:
    """The open carts matching any of ``either``, locked in id order (two merges never
    deadlock)."""
    return list(
        db.session.execute(
            select(Cart)
            .where(Cart.status.in_(CartStatus.OPEN), or_(*either))
            .order_by(Cart.id)
            .with_for_update()
        ).scalars()
    )


def _merge_lines(source: Cart, target: Cart) -> None:
    """Add ``source``'s lines to ``target`` (both locked): quantities summed, capped by the
    per-line maximum and the stock (never below what ``target`` already had); lines no
    longer for sale stay behind. ``source`` becomes MERGED. The caller commits."""
    _release_holds(source.id)
    _release_holds(target.id)
    own_line = aliased(CartItem)
    rows = db.session.execute(
        select(
            CartItem,
            and_(ProductVariant.is_active, Product.status == ProductStatus.ACTIVE).label(
                "purchasable"
            ),
            ProductVariant.track_inventory.label("tracked"),
            (InventoryItem.on_hand - InventoryItem.reserved).label("left"),
            own_line,
        )
        .join(ProductVariant, ProductVariant.id == CartItem.variant_id)
        .join(Product, Product.id == ProductVariant.product_id)
        .outerjoin(InventoryItem, InventoryItem.variant_id == ProductVariant.id)
        .outerjoin(
            own_line,
            and_(own_line.variant_id == ProductVariant.id, own_line.cart_id == target.id),
        )
        .where(CartItem.cart_id == source.id)
        .order_by(CartItem.id)
    ).all()
    limit = max_per_line()
    moved = 0
    for row in rows:
        theirs, mine = row[0], row[-1]  # the source's line, the target's (or None)
        if not row.purchasable:
            continue
        had = mine.quantity if mine else 0
        wanted = min(had + theirs.quantity, limit)
        available = _available(row)
        if available is not None:
            wanted = min(wanted, available)
        wanted = max(wanted, had)
        if wanted == had:
            continue
        moved += wanted - had
        if mine is None:
            db.session.add(
                CartItem(
                    cart_id=target.id,
                    variant_id=theirs.variant_id,
                    quantity=wanted,
                    unit_price=theirs.unit_price,
                    added_at=theirs.added_at,
                )
            )
        else:
            mine.quantity = wanted
    source.status = CartStatus.MERGED
    source.last_activity_at = utcnow()
    _touch(target, None)
    _record(target.id, CartEventKind.MERGED, None, moved)


# -- reading a cart ----------------------------------------------------------------------


@dataclass
class CartLine:
    item_id: int
    variant_id: int
    product_slug: str | None
    product_lang: str  # the language of ``product_slug`` and ``title`` (another when the
    # product has no text in the shopper's)
    title: str
    variant_label: str
    sku: str
    quantity: int
    unit_price: int  # the snapshot: the price when added, or when last seen
    current_price: int
    price_changed: bool
    available: int | None  # None: not tracked (no stock limit)
    line_total: int  # current price x quantity
    image: ProductImage | None
    purchasable: bool

    @property
    def short(self) -> bool:
        """More units in the cart than there are left."""
        return self.available is not None and self.quantity > self.available


@dataclass
class CartSummary:
    lines: list[CartLine]
    quantity: int
    subtotal: int  # purchasable lines at today's prices, minor units
    has_price_changes: bool

    @property
    def can_check_out(self) -> bool:
        """Something to buy, all of it for sale and in stock."""
        return bool(self.lines) and all(line.purchasable and not line.short for line in self.lines)


def summary(cart_id: int, locale: str) -> CartSummary:
    """The cart's lines as the shopper sees them: two queries whatever the number of lines."""
    own_holds = (
        select(func.coalesce(func.sum(InventoryReservation.quantity), 0))
        .where(
            InventoryReservation.cart_id == cart_id,
            InventoryReservation.order_id.is_(None),
            InventoryReservation.variant_id == ProductVariant.id,
        )
        .correlate(ProductVariant)
        .scalar_subquery()
    )
    # The product's text in the shopper's language, else in the other one (a product may
    # be sold in French only): a line always has a title and a link.
    other = next(code for code in LOCALES if code != locale)
    own, fallback = aliased(ProductTranslation), aliased(ProductTranslation)
    rows = db.session.execute(
        select(
            CartItem,
            ProductVariant,
            Product.status,
            own.slug,
            own.title,
            fallback.slug,
            fallback.title,
            InventoryItem.on_hand - InventoryItem.reserved + own_holds,
        )
        .join(ProductVariant, ProductVariant.id == CartItem.variant_id)
        .join(Product, Product.id == ProductVariant.product_id)
        .outerjoin(own, and_(own.product_id == Product.id, own.locale == locale))
        .outerjoin(fallback, and_(fallback.product_id == Product.id, fallback.locale == other))
        .outerjoin(InventoryItem, InventoryItem.variant_id == ProductVariant.id)
        .where(CartItem.cart_id == cart_id)
        .order_by(CartItem.id)
    ).all()
    images = _first_images({variant.product_id for _, variant, *_ in rows})
    lines = []
    for item, variant, status, slug, title, other_slug, other_title, left in rows:
        purchasable = variant.is_active and status == ProductStatus.ACTIVE
        text_lang = locale if title else other
        if not title:
            slug, title = other_slug, other_title
        lines.append(
            CartLine(
                item_id=item.id,
                variant_id=variant.id,
                product_slug=slug if purchasable else None,
                product_lang=text_lang,
                title=title or variant.sku,
                variant_label=variant.option_label(locale),
                sku=variant.sku,
                quantity=item.quantity,
                unit_price=item.unit_price,
                current_price=variant.price,
                price_changed=item.unit_price != variant.price,
                available=max(left or 0, 0) if variant.track_inventory else None,
                line_total=variant.price * item.quantity,
                image=images.get(variant.product_id),
                purchasable=purchasable,
            )
        )
    return CartSummary(
        lines=lines,
        quantity=sum(line.quantity for line in lines),
        subtotal=sum(line.line_total for line in lines if line.purchasable),
        has_price_changes=any(line.price_changed for line in lines),
    )


def _first_images(product_ids: set[int]) -> dict[int, ProductImage]:
    if not product_ids:
        return {}
    first: dict[int, ProductImage] = {}
    for image in db.session.execute(
        select(ProductImage)
        .where(ProductImage.product_id.in_(product_ids))
        .order_by(ProductImage.product_id, ProductImage.position, ProductImage.id)
    ).scalars():
        first.setdefault(image.product_id, image)
    return first
