"""Shipping: which methods serve a country, in the staff's order, and their price for a basket."""

from __future__ import annotations

import pytest
from flask_babel import force_locale

from shop.checkout.defaults import load_defaults
from shop.checkout.models import ShippingKind, ShippingMethod
from shop.checkout.shipping import (
    ShippingQuote,
    ShippingUnavailable,
    available_methods,
    quote,
)
from shop.extensions import db


@pytest.fixture
def methods(app):
    with app.app_context():
        load_defaults()
        yield


def offered(country: str, subtotal: int) -> list[tuple[str, int]]:
    return [(q.code, q.price) for q in available_methods(country, subtotal)]


def add_method(code: str, kind: str, **values) -> None:
    defaults = {"name_fr": code, "name_en": code, "price": 500, "position": 10}
    db.session.add(ShippingMethod(code=code, kind=kind, **{**defaults, **values}))
    db.session.commit()


@pytest.mark.parametrize(
    ("country", "subtotal", "expected"),
    [
        ("FR", 0, [("colissimo", 690), ("pickup-paris", 0)]),
        ("FR", 5999, [("colissimo", 690), ("pickup-paris", 0)]),
        ("FR", 6000, [("colissimo", 0), ("pickup-paris", 0)]),
        ("fr", 12000, [("colissimo", 0), ("pickup-paris", 0)]),
        ("MC", 1000, [("colissimo", 690)]),
        ("DE", 1000, [("europe", 1290)]),
        ("IE", 99000, [("europe", 1290)]),
        ("BE", 100, [("europe", 1290)]),
        ("CA", 1000, [("canada-post", 2490)]),
        ("US", 1000, []),
        ("", 1000, []),
    ],
)
def test_default_methods_by_country_and_subtotal(methods, country, subtotal, expected):
    assert offered(country, subtotal) == expected


def test_quote_carries_both_names_kind_and_tax_class(methods):
    result = quote("pickup-paris", "FR", 1000)

    assert result == ShippingQuote(
        code="pickup-paris",
        name_fr="Retrait en boutique (Paris)",
        name_en="Store pickup (Paris)",
        kind=ShippingKind.PICKUP,
        price=0,
        tax_class="standard",
    )
    assert result.name("fr") == "Retrait en boutique (Paris)"
    assert result.name("en") == "Store pickup (Paris)"


@pytest.mark.parametrize(
    ("code", "country", "subtotal", "price"),
    [
        ("colissimo", "FR", 5999, 690),
        ("colissimo", "FR", 6000, 0),
        ("colissimo", "mc", 6000, 0),
        ("europe", "NL", 100_000, 1290),
        ("canada-post", "CA", 0, 2490),
    ],
)
def test_quote_prices_a_method(methods, code, country, subtotal, price):
    assert quote(code, country, subtotal).price == price


@pytest.mark.parametrize(
    ("code", "country"),
    [
        ("colissimo", "DE"),
        ("pickup-paris", "BE"),
        ("europe", "FR"),
        ("canada-post", "US"),
        ("teleport", "FR"),
    ],
)
def test_quote_refuses_what_cannot_ship(methods, code, country):
    with pytest.raises(ShippingUnavailable) as raised:
        quote(code, country, 1000)

    assert raised.value.code == code
    with force_locale("en"):
        assert str(raised.value.message) == (
            "This delivery method is not available for this address. Please choose another."
        )
    with force_locale("fr"):
        assert str(raised.value.message) == (
            "Ce mode de livraison n’est pas disponible pour cette adresse. "
            "Veuillez en choisir un autre."
        )


def test_inactive_methods_are_neither_offered_nor_quoted(methods):
    db.session.execute(
        db.update(ShippingMethod).where(ShippingMethod.code == "colissimo").values(active=False)
    )
    db.session.commit()

    assert offered("FR", 1000) == [("pickup-paris", 0)]
    with pytest.raises(ShippingUnavailable):
        quote("colissimo", "FR", 1000)


def test_no_country_list_means_everywhere_except_for_a_pickup(app):
    with app.app_context():
        add_method("courier", ShippingKind.FLAT, countries=[], position=2)
        add_method("locker", ShippingKind.PICKUP, countries=[], position=1)

        assert offered("FR", 1000) == [("courier", 500)]
        assert offered("JP", 1000) == [("courier", 500)]
        with pytest.raises(ShippingUnavailable):
            quote("locker", "FR", 1000)


def test_methods_follow_their_position(app):
    with app.app_context():
        add_method("third", ShippingKind.FLAT, position=3)
        add_method("first", ShippingKind.FLAT, position=1)
        add_method("second", ShippingKind.FLAT, position=2)

        assert [q.code for q in available_methods("FR", 0)] == ["first", "second", "third"]


def test_only_a_free_over_method_becomes_free(app):
    with app.app_context():
        add_method("flat", ShippingKind.FLAT, free_over=1000, position=1)
        add_method("free-over", ShippingKind.FREE_OVER, free_over=1000, position=2)
        add_method("never-free", ShippingKind.FREE_OVER, free_over=None, position=3)

        assert offered("FR", 999) == [("flat", 500), ("free-over", 500), ("never-free", 500)]
        assert offered("FR", 1000) == [("flat", 500), ("free-over", 0), ("never-free", 500)]
