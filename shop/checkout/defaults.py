"""Default tax rates and shipping methods, so a new shop (and the demo) can take orders.

How our tax classes map to each country's rates (rates in force on 1 January 2026):

================  ========  =======  =============  ====
country           standard  reduced  super_reduced  zero
================  ========  =======  =============  ====
France, Monaco    20        5.5      2.1            0
Germany (DE)      19        7        7              0
Belgium (BE)      21        6        6              0
Luxembourg (LU)   17        8        3              0
Spain (ES)        21        10       4              0
Italy (IT)        22        5        4              0
Netherlands (NL)  21        9        9              0
Portugal (PT)     23        6        6              0
Austria (AT)      20        10       10             0
Ireland (IE)      23        9        4.8            0
================  ========  =======  =============  ====

The classes name rate levels, not kinds of goods: ``reduced`` is the country's lowest reduced
rate (France's 5.5 %, as for food and books, rather than its 10 %), ``super_reduced`` its
super-reduced rate below 5 %, or its reduced rate when it has none. Mainland Portugal only
(the Azores and Madeira have rates of their own; addresses there are refused for now).
Since July 2021 distance sales to consumers in another member state are taxed at the
destination's rates (through the OSS), hence one set per country.

Canada has no reduced rates: ``standard``, ``reduced`` and ``super_reduced`` all take the
full rates, ``zero`` (zero-rated supplies such as basic groceries) the same components at
0 %. Per province: GST 5 % everywhere (AB, NT, NU, YT: GST only); Québec GST + QST 9.975 %;
British Columbia GST + PST 7 %; Saskatchewan GST + PST 6 %; Manitoba GST + RST 7 %; HST
13 % in Ontario, 15 % in New Brunswick, Newfoundland and Labrador and Prince Edward Island,
14 % in Nova Scotia (lowered from 15 % on 1 April 2025).

``load_defaults`` only fills what is missing: a destination (country and region) that has
any tax rate is left as the staff set it, and a shipping method is added only when no
method has its code, so running it again changes nothing.
"""

from __future__ import annotations

from decimal import Decimal

from shop.catalogue.models import TaxClass
from shop.checkout.models import ShippingKind, ShippingMethod, TaxRate
from shop.extensions import db

# (name_fr, name_en, rate_ppm)
Component = tuple[str, str, int]

# standard, reduced, super_reduced (ppm); zero is 0 everywhere.
VAT_RATES: dict[str, tuple[int, int, int]] = {
    "FR": (200_000, 55_000, 21_000),
    "MC": (200_000, 55_000, 21_000),
    "DE": (190_000, 70_000, 70_000),
    "BE": (210_000, 60_000, 60_000),
    "LU": (170_000, 80_000, 30_000),
    "ES": (210_000, 100_000, 40_000),
    "IT": (220_000, 50_000, 40_000),
    "NL": (210_000, 90_000, 90_000),
    "PT": (230_000, 60_000, 60_000),
    "AT": (200_000, 100_000, 100_000),
    "IE": (230_000, 90_000, 48_000),
}

GST: Component = ("TPS", "GST", 50_000)
CANADIAN_TAXES: dict[str, tuple[Component, ...]] = {
    "AB": (GST,),
    "BC": (GST, ("TVP", "PST", 70_000)),
    "MB": (GST, ("TVD", "RST", 70_000)),
    "NB": (("TVH", "HST", 150_000),),
    "NL": (("TVH", "HST", 150_000),),
    "NS": (("TVH", "HST", 140_000),),
    "NT": (GST,),
    "NU": (GST,),
    "ON": (("TVH", "HST", 130_000),),
    "PE": (("TVH", "HST", 150_000),),
    "QC": (GST, ("TVQ", "QST", 99_750)),
    "SK": (GST, ("TVP", "PST", 60_000)),
    "YT": (GST,),
}

EU_DELIVERY = ["BE", "LU", "DE", "ES", "IT", "NL", "PT", "AT", "IE"]
SHIPPING_METHODS = (
    {
        "code": "colissimo",
        "kind": ShippingKind.FREE_OVER,
        "name_fr": "Colissimo domicile",
        "name_en": "Colissimo home delivery",
        "price": 690,
        "free_over": 6000,
        "countries": ["FR", "MC"],  # La Poste serves Monaco as part of France
    },
    {
        "code": "pickup-paris",
        "kind": ShippingKind.PICKUP,
        "name_fr": "Retrait en boutique (Paris)",
        "name_en": "Store pickup (Paris)",
        "price": 0,
        "free_over": None,
        "countries": ["FR"],
    },
    {
        "code": "europe",
        "kind": ShippingKind.FLAT,
        "name_fr": "Livraison Europe",
        "name_en": "Europe delivery",
        "price": 1290,
        "free_over": None,
        "countries": EU_DELIVERY,
    },
    {
        "code": "canada-post",
        "kind": ShippingKind.FLAT,
        "name_fr": "Postes Canada",
        "name_en": "Canada Post",
        "price": 2490,
        "free_over": None,
        "countries": ["CA"],
    },
)


def percent(rate_ppm: int, decimal_mark: str) -> str:
    """20 for 200000, 5,5 / 5.5 for 55000, 9,975 for 99750."""
    text = format((Decimal(rate_ppm) / 10_000).normalize(), "f")
    return text.replace(".", decimal_mark)


def vat(rate_ppm: int) -> Component:
    return (f"TVA {percent(rate_ppm, ',')}\u202f%", f"VAT {percent(rate_ppm, '.')}%", rate_ppm)


def default_tax_rates() -> list[dict[str, object]]:
    """Every default row, in the order (and with the positions) invoices list them."""
    rows: list[dict[str, object]] = []
    for country, (standard, reduced, super_reduced) in VAT_RATES.items():
        classes = {
            TaxClass.STANDARD: (vat(standard),),
            TaxClass.REDUCED: (vat(reduced),),
            TaxClass.SUPER_REDUCED: (vat(super_reduced),),
            TaxClass.ZERO: (vat(0),),
        }
        rows.extend(_rows(country, "", classes))
    for province, components in CANADIAN_TAXES.items():
        classes = {
            TaxClass.STANDARD: components,
            TaxClass.REDUCED: components,
            TaxClass.SUPER_REDUCED: components,
            TaxClass.ZERO: tuple((fr, en, 0) for fr, en, _ in components),
        }
        rows.extend(_rows("CA", province, classes))
    return rows


def _rows(
    country: str, region: str, classes: dict[str, tuple[Component, ...]]
) -> list[dict[str, object]]:
    return [
        {
            "country": country,
            "region": region,
            "tax_class": tax_class,
            "name_fr": name_fr,
            "name_en": name_en,
            "rate_ppm": rate_ppm,
            "position": class_index * 10 + index,
        }
        for class_index, (tax_class, components) in enumerate(classes.items())
        for index, (name_fr, name_en, rate_ppm) in enumerate(components)
    ]


def load_defaults() -> list[str]:
    """Add the default tax rates and shipping methods the shop lacks, commit, and say what
    (nothing when it had them all)."""
    configured = {
        tuple(row) for row in db.session.execute(db.select(TaxRate.country, TaxRate.region))
    }
    rates = [
        TaxRate(**row)
        for row in default_tax_rates()
        if (row["country"], row["region"]) not in configured
    ]
    codes = set(db.session.execute(db.select(ShippingMethod.code)).scalars())
    methods = [
        ShippingMethod(
            **{**method, "countries": list(method["countries"])},
            position=position,
            tax_class=TaxClass.STANDARD,
        )
        for position, method in enumerate(SHIPPING_METHODS)
        if method["code"] not in codes
    ]
    if not rates and not methods:
        return []
    db.session.add_all([*rates, *methods])
    db.session.commit()
    return [f"checkout: {len(rates)} tax rates, {len(methods)} shipping methods added"]
