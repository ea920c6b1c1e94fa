"""Shipping an order and closing it: PAID → FULFILLED (a shipment, a "shipped" mail with
its tracking link), then FULFILLED → COMPLETED.

Like every order change, each takes the order row with ``SELECT ... FOR UPDATE`` first and
writes its outbox event in the same transaction. Input is checked before the row is taken,
so a refusal for bad input changes nothing and holds no lock.

The carrier table gives each carrier's name and tracking page; both are written on the
shipment in the order's language when it ships (what the customer was told stays as told).
"Other" carriers need their tracking link typed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l

from shop.clock import utcnow
from shop.extensions import db
from shop.orders.models import Order, OrderStatus, Shipment
from shop.orders.services import OrderError, lock_order
from shop.outbox.services import emit

OTHER = "other"
_TRACKING_NUMBER = re.compile(r"[A-Z0-9][A-Z0-9-]{3,39}")


@dataclass(frozen=True)
class Carrier:
    code: str
    name: str  # the brand, or a translatable name (lazy string)
    urls: dict[str, str]  # locale → tracking page with ``{number}``; empty for "other"

    def tracking_url(self, number: str, locale: str) -> str:
        template = self.urls.get(locale) or self.urls["en"]
        return template.format(number=quote(number, safe=""))


def _pages(template: str, **by_locale: str) -> dict[str, str]:
    """A tracking page per locale from one template with ``{lang}`` (and ``{number}``)."""
    return {locale: template.replace("{lang}", value) for locale, value in by_locale.items()}


_LA_POSTE = {
    "fr": "https://www.laposte.fr/outils/suivre-vos-envois?code={number}",
    "en": "https://www.laposte.fr/outils/track-a-parcel?code={number}",
}

CARRIERS: dict[str, Carrier] = {
    carrier.code: carrier
    for carrier in (
        Carrier("colissimo", "Colissimo", _LA_POSTE),
        Carrier(
            "chronopost",
            "Chronopost",
            _pages(
                "https://www.chronopost.fr/tracking-no-cms/suivi-page"
                "?listeNumerosLT={number}&langue={lang}",
                fr="fr",
                en="en",
            ),
        ),
        Carrier("lettre_suivie", _l("La Poste tracked letter"), _LA_POSTE),
        Carrier(
            "dhl",
            "DHL",
            _pages(
                "https://www.dhl.com/{lang}/home/tracking.html?tracking-id={number}&submit=1",
                fr="fr-fr",
                en="global-en",
            ),
        ),
        Carrier(
            "ups",
            "UPS",
            _pages(
                "https://www.ups.com/track?loc={lang}&tracknum={number}", fr="fr_FR", en="en_US"
            ),
        ),
        Carrier(
            "canada_post",
            _l("Canada Post"),
            _pages(
                "https://www.canadapost-postescanada.ca/track-reperage/{lang}"
                "#/search?searchFor={number}",
                fr="fr",
                en="en",
            ),
        ),
        Carrier(
            "purolator",
            "Purolator",
            {"en": "https://www.purolator.com/en/shipping/tracker?pin={number}"},
        ),
        Carrier(OTHER, _l("Other carrier"), {}),
    )
}


class NotShippable(OrderError):
    message = _l("Only a paid order that has not been shipped yet can be marked as shipped.")


class NotCompletable(OrderError):
    message = _l("Only a shipped order can be marked as completed.")


class UnknownCarrier(OrderError):
    message = _l("Please choose a carrier from the list.")


class InvalidTrackingNumber(OrderError):
    message = _l(
        "Please enter the tracking number given by the carrier: 4 to 40 letters, digits or dashes."
    )


class InvalidTrackingUrl(OrderError):
    message = _l("For another carrier, please enter its tracking link, starting with https://.")


def normalize_tracking_number(raw: str) -> str:
    """Carriers print numbers in groups (« 6A 123 456 789 01 »): spaces go, letters are
    upper-cased, and what is left must look like a tracking number."""
    number = re.sub(r"\s+", "", raw or "").upper()
    if not _TRACKING_NUMBER.fullmatch(number):
        raise InvalidTrackingNumber(raw)
    return number


def _checked_url(raw: str | None) -> str:
    url = (raw or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or len(url) > 300:
        raise InvalidTrackingUrl(url)
    return url


def _locked(order_id: int) -> Order:
    order = lock_order(order_id)
    if order is None:
        db.session.rollback()
        raise OrderError(order_id)
    return order


def _shipment_of(order_id: int) -> Shipment | None:
    return db.session.execute(
        db.select(Shipment).where(Shipment.order_id == order_id).order_by(Shipment.id).limit(1)
    ).scalar_one_or_none()


def fulfil(
    order_id: int,
    *,
    carrier: str,
    tracking_number: str,
    tracking_url: str | None = None,
    actor_id: int | None = None,
) -> Shipment:
    """The order has left in a parcel: record the shipment, move the order to FULFILLED and
    tell the customer (``order_shipped``), all in one transaction.

    ``carrier`` is a code of ``CARRIERS``; ``tracking_url`` is needed (and only used) for
    ``"other"``. Raises ``UnknownCarrier``, ``InvalidTrackingNumber``,
    ``InvalidTrackingUrl``, or ``NotShippable`` when the order is not paid or already
    shipped; nothing is written then.
    """
    chosen = CARRIERS.get(carrier)
    if chosen is None:
        raise UnknownCarrier(carrier)
    number = normalize_tracking_number(tracking_number)
    url = _checked_url(tracking_url) if chosen.code == OTHER else None
    order = _locked(order_id)
    if not order.can_move_to(OrderStatus.FULFILLED) or _shipment_of(order.id) is not None:
        db.session.rollback()
        raise NotShippable(order.status)
    if url:  # "other": the customer sees where the link goes
        name = (urlsplit(url).hostname or "").removeprefix("www.")
    else:
        with force_locale(order.locale):
            name = str(chosen.name)
    shipment = Shipment(
        order_id=order.id,
        carrier=chosen.code,
        carrier_name=name[:80],
        tracking_number=number,
        tracking_url=url or chosen.tracking_url(number, order.locale),
        shipped_at=utcnow(),
        actor_id=actor_id,
    )
    db.session.add(shipment)
    db.session.flush()
    order.move_to(OrderStatus.FULFILLED)
    emit("order_shipped", order_id=order.id, number=order.number, shipment_id=shipment.id)
    db.session.commit()
    return shipment


def complete(order_id: int) -> Order:
    """The customer has the parcel and nothing is left to do: FULFILLED → COMPLETED (also
    from PARTIALLY_REFUNDED, once shipped). Raises ``NotCompletable`` otherwise."""
    order = _locked(order_id)
    if not order.can_move_to(OrderStatus.COMPLETED) or _shipment_of(order.id) is None:
        db.session.rollback()
        raise NotCompletable(order.status)
    order.move_to(OrderStatus.COMPLETED)
    db.session.commit()
    return order
