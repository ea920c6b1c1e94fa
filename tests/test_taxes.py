"""Taxes: components by destination, invoice-level rounding, exact cents; store settings."""

from __future__ import annotations

import random
from decimal import ROUND_HALF_UP, Decimal

import pytest
from flask_babel import force_locale
from sqlalchemy import event, func

from shop.catalogue.models import TaxClass
from shop.checkout.addresses import CANADIAN_PROVINCES, SUPPORTED_COUNTRIES
from shop.checkout.defaults import load_defaults
from shop.checkout.models import TaxRate
from shop.checkout.taxes import (
    MissingTaxRate,
    TaxComponent,
    UnsupportedDestination,
    compute,
)
from shop.extensions import db
from shop.platform import services as settings

STD, RED, SUPER, ZERO = TaxClass.STANDARD, TaxClass.REDUCED, TaxClass.SUPER_REDUCED, TaxClass.ZERO


@pytest.fixture
def rates(app):
    with app.app_context():
        load_defaults()
        yield


def components(result) -> list[tuple[str, int, int, int]]:
    return [(c.name_en, c.rate_ppm, c.taxable_amount, c.amount) for c in result.components]


# country, region, prices include tax, lines, shipping,
# expected components (name_en, rate, taxable, amount), line taxes, shipping tax, total
BASKETS = [
    pytest.param(
        "FR", "", True, [(2400, STD), (1055, RED)], (690, STD),
        [("VAT 20%", 200_000, 2575, 515), ("VAT 5.5%", 55_000, 1000, 55)],
        [400, 55], 115, 4145,
        id="france-ttc-20-and-5.5",
    ),
    pytest.param(
        "FR", "", True, [(1999, STD), (349, RED), (1250, STD)], (690, STD),
        # 20 %: 3939 TTC -> 3283 HT, 656 tax; 5.5 %: 349 -> 331 HT, 18 tax
        [("VAT 20%", 200_000, 3283, 656), ("VAT 5.5%", 55_000, 331, 18)],
        [333, 18, 208], 115, 4288,
        id="france-ttc-uneven",
    ),
    pytest.param(
        "FR", "", False, [(2000, STD), (1000, RED)], (575, STD),
        [("VAT 20%", 200_000, 2575, 515), ("VAT 5.5%", 55_000, 1000, 55)],
        [400, 55], 115, 4145,
        id="france-ht-20-and-5.5",
    ),
    pytest.param(
        "CA", "QC", False, [(10000, STD), (2599, STD)], (2490, STD),
        # GST 15089 × 5 % = 754.45 -> 754; QST 15089 × 9.975 % = 1505.13 -> 1505
        [("GST", 50_000, 15089, 754), ("QST", 99_750, 15089, 1505)],
        [1498, 389], 372, 17348,
        id="quebec-ht-gst-and-qst",
    ),
    pytest.param(
        "CA", "QC", True, [(11498, STD)], None,
        # 11498 / 1.14975 = 10000.43 -> 10000; 1498 split 5 : 9.975 -> 500 + 998
        [("GST", 50_000, 10000, 500), ("QST", 99_750, 10000, 998)],
        [1498], 0, 11498,
        id="quebec-ttc-gst-and-qst",
    ),
    pytest.param(
        "CA", "ON", False, [(4999, STD), (1, STD)], (2490, STD),
        [("HST", 130_000, 7490, 974)],
        [650, 0], 324, 8464,
        id="ontario-ht-hst",
    ),
    pytest.param(
        "CA", "NS", False, [(10000, STD)], None,
        [("HST", 140_000, 10000, 1400)],
        [1400], 0, 11400,
        id="nova-scotia-ht-hst-14",
    ),
    pytest.param(
        "DE", "", True, [(11900, STD), (1070, RED)], (1290, STD),
        # 19 %: 13190 -> 11084 + 2106; 7 %: 1070 -> 1000 + 70
        [("VAT 19%", 190_000, 11084, 2106), ("VAT 7%", 70_000, 1000, 70)],
        [1900, 70], 206, 14260,
        id="germany-ttc-19-and-7",
    ),
    pytest.param(
        "BE", "", False, [(1234, STD), (5678, RED)], (1066, STD),
        # 21 %: 2300 -> 483; 6 %: 5678 -> 340.68 -> 341
        [("VAT 21%", 210_000, 2300, 483), ("VAT 6%", 60_000, 5678, 341)],
        [259, 341], 224, 8802,
        id="belgium-ht-21-and-6",
    ),
    pytest.param(
        "BE", "", True, [(1234, STD), (5678, RED)], (1290, STD),
        # 21 %: 2524 -> 2086 + 438; 6 %: 5678 -> 5356.60 -> 5357 + 321
        [("VAT 21%", 210_000, 2086, 438), ("VAT 6%", 60_000, 5357, 321)],
        [214, 321], 224, 8202,
        id="belgium-ttc-21-and-6",
    ),
    pytest.param(
        "FR", "", True, [(999, STD), (999, STD)], None,
        # invoice level: 1998 -> 1665 + 333; line by line it would be 166 + 166 = 332
        [("VAT 20%", 200_000, 1665, 333)],
        [167, 166], 0, 1998,
        id="france-ttc-rounds-once-per-component",
    ),
    pytest.param(
        "FR", "", False, [(3, STD), (3, STD), (3, STD)], None,
        # 9 × 20 % = 1.8 -> 2; line by line it would be 1 + 1 + 1 = 3
        [("VAT 20%", 200_000, 9, 2)],
        [1, 1, 0], 0, 11,
        id="france-ht-rounds-once-per-component",
    ),
    pytest.param(
        "CA", "BC", True, [(168, STD)], None,
        # 168 / 1.12 = 150, tax 18 split 5 : 7 = 7.5 + 10.5 -> 8 + 11 = 19: the largest gives one
        [("GST", 50_000, 150, 8), ("PST", 70_000, 150, 10)],
        [18], 0, 168,
        id="british-columbia-ttc-remainder-to-largest",
    ),
    pytest.param(
        "FR", "", True, [(1000, ZERO), (500, SUPER)], (0, STD),
        [("VAT 2.1%", 21_000, 490, 10), ("VAT 0%", 0, 1000, 0)],
        [0, 10], 0, 1500,
        id="france-zero-and-super-reduced-free-shipping",
    ),
    pytest.param(
        "CA", "QC", False, [(2000, ZERO), (1000, STD)], None,
        [("GST", 50_000, 1000, 50), ("QST", 99_750, 1000, 100), ("GST", 0, 2000, 0),
         ("QST", 0, 2000, 0)],
        [0, 150], 0, 3150,
        id="quebec-zero-rated-groceries",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    "country, region, ttc, lines, shipping, expected, line_taxes, ship_tax, total",
    BASKETS,
)
def test_baskets_to_the_cent(
    rates, country, region, ttc, lines, shipping, expected, line_taxes, ship_tax, total
):
    result = compute(country, region, lines, shipping, prices_include_tax=ttc)

    assert components(result) == expected
    assert result.line_taxes == line_taxes
    assert result.shipping.tax == ship_tax
    assert result.total == total
    assert result.tax_total == sum(c.amount for c in result.components)
    assert result.subtotal_display == sum(amount for amount, _ in lines)
    assert result.total == result.subtotal_excl + result.shipping_excl + result.tax_total


def test_quebec_shows_gst_and_qst_as_two_bilingual_lines(rates):
    result = compute("CA", "QC", [(10000, STD)], prices_include_tax=False)

    assert result.components == [
        TaxComponent("TPS", "GST", 50_000, 10000, 500),
        TaxComponent("TVQ", "QST", 99_750, 10000, 998),
    ]
    assert [c.name("fr") for c in result.components] == ["TPS", "TVQ"]
    assert result.total == 11498


def test_french_names_use_a_decimal_comma_and_a_narrow_space(rates):
    result = compute("FR", "", [(1055, RED), (1200, STD)], prices_include_tax=True)

    assert [c.name("fr") for c in result.components] == ["TVA 20\u202f%", "TVA 5,5\u202f%"]
    assert [c.name("en") for c in result.components] == ["VAT 20%", "VAT 5.5%"]


def test_result_splits_lines_and_shipping_into_net_and_tax(rates):
    result = compute("FR", "", [(2400, STD)], (690, STD), prices_include_tax=True)

    line, shipping = result.lines[0], result.shipping
    assert (line.amount, line.net, line.tax, line.gross) == (2400, 2000, 400, 2400)
    assert (shipping.amount, shipping.net, shipping.tax, shipping.gross) == (690, 575, 115, 690)
    assert (result.subtotal_display, result.subtotal_excl) == (2400, 2000)
    assert (result.shipping_excl, result.total_excl) == (575, 2575)
    assert (result.tax_total, result.total) == (515, 3090)


@pytest.mark.parametrize(
    ("country", "region", "tax_class", "ttc", "amount", "tax"),
    [
        # France 20 %, tax included: G − round_half_up(G / 1.2)
        ("FR", "", STD, True, 1, 0),
        ("FR", "", STD, True, 3, 0),  # 2.5 net rounds half up to 3: no tax left
        ("FR", "", STD, True, 6, 1),
        ("FR", "", STD, True, 999, 166),  # 832.5 -> 833
        ("FR", "", STD, True, 12345, 2057),  # 10287.5 -> 10288
        # France 20 %, tax excluded: round_half_up(net × 0.2)
        ("FR", "", STD, False, 1, 0),
        ("FR", "", STD, False, 3, 1),  # 0.6
        ("FR", "", STD, False, 999, 200),  # 199.8
        ("FR", "", STD, False, 12345, 2469),
        # France 5.5 %: half cents go up, not to even
        ("FR", "", RED, False, 10, 1),  # 0.55
        ("FR", "", RED, False, 300, 17),  # 16.5
        ("FR", "", RED, False, 500, 28),  # 27.5
        ("FR", "", RED, True, 1, 0),
        ("FR", "", RED, True, 999, 52),  # 946.919... -> 947
        # Québec, tax excluded: each component rounded on its own
        ("CA", "QC", STD, False, 1, 0),
        ("CA", "QC", STD, False, 10, 2),  # GST 0.5 -> 1, QST 0.9975 -> 1
        ("CA", "QC", STD, False, 999, 150),  # 49.95 -> 50, 99.65 -> 100
        ("CA", "QC", STD, False, 12345, 1848),  # 617.25 -> 617, 1231.41 -> 1231
        ("CA", "QC", STD, True, 12345, 1608),  # 12345 / 1.14975 = 10737.12
    ],
)
def test_rounding_edge_cases(rates, country, region, tax_class, ttc, amount, tax):
    result = compute(country, region, [(amount, tax_class)], prices_include_tax=ttc)

    assert result.tax_total == tax
    assert result.line_taxes == [tax]
    assert result.total == (amount if ttc else amount + tax)


def test_quebec_components_for_12345_cents(rates):
    excluded = compute("CA", "QC", [(12345, STD)], prices_include_tax=False)
    included = compute("CA", "QC", [(12345, STD)], prices_include_tax=True)

    assert [c.amount for c in excluded.components] == [617, 1231]
    assert [c.amount for c in included.components] == [537, 1071]
    assert [c.taxable_amount for c in included.components] == [10737, 10737]


DESTINATIONS = [("FR", ""), ("DE", ""), ("BE", ""), ("IE", ""), ("CA", "QC"), ("CA", "BC")]
DESTINATIONS += [("CA", "ON"), ("CA", "AB")]


@pytest.mark.parametrize(("country", "region"), DESTINATIONS)
@pytest.mark.parametrize("ttc", [True, False])
def test_lines_and_components_always_add_up(rates, country, region, ttc):
    draw = random.Random(f"{country}{region}{ttc}")
    for _ in range(200):
        amounts = [0, 1, 3, 5, 99, 999, draw.randrange(1, 200_000)]
        lines = [
            (draw.choice(amounts), draw.choice(TaxClass.ALL)) for _ in range(draw.randrange(1, 7))
        ]
        shipping = (draw.choice([0, 690, 1290, 2490, 1]), STD)

        result = compute(country, region, lines, shipping, prices_include_tax=ttc)

        given = sum(amount for amount, _ in lines) + shipping[0]
        line_taxes = sum(result.line_taxes) + result.shipping.tax
        assert line_taxes == result.tax_total == sum(c.amount for c in result.components)
        assert result.total == (given if ttc else given + result.tax_total)
        assert result.total == result.total_excl + result.tax_total
        assert all(line.tax >= 0 and line.net >= 0 for line in [*result.lines, result.shipping])
        assert len({(c.name_en, c.rate_ppm) for c in result.components}) == len(result.components)


def test_one_query_for_the_whole_basket(rates):
    statements = []

    def count(*args):
        statements.append(args[2])

    lines = [(1000 + i, TaxClass.ALL[i % 4]) for i in range(40)]
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        compute("CA", "QC", lines, (2490, STD), prices_include_tax=False)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 1


def test_region_rows_win_over_the_country_rows(rates):
    db.session.add(
        TaxRate(country="FR", region="COR", tax_class=STD, name_fr="TVA Corse", name_en="Corsica",
                rate_ppm=100_000)
    )  # fmt: skip
    db.session.commit()

    corsica = compute("FR", "cor", [(1100, STD)], prices_include_tax=True)
    paris = compute("FR", "75", [(1200, STD)], prices_include_tax=True)

    assert components(corsica) == [("Corsica", 100_000, 1000, 100)]
    assert components(paris) == [("VAT 20%", 200_000, 1000, 200)]


@pytest.mark.parametrize(
    ("country", "region"),
    [("US", ""), ("GB", ""), ("CA", ""), ("CA", "ZZ"), ("", "")],
)
def test_unsupported_destination_has_a_message(rates, country, region):
    with pytest.raises(UnsupportedDestination) as raised:
        compute(country, region, [(1000, STD)], prices_include_tax=True)

    with force_locale("en"):
        assert str(raised.value.message) == "We do not deliver to this destination yet."
    with force_locale("fr"):
        assert str(raised.value.message) == "Nous ne livrons pas encore à cette destination."


def test_a_class_without_rates_is_a_setup_error_unless_nothing_is_charged(rates):
    db.session.execute(db.delete(TaxRate).where(TaxRate.country == "DE", TaxRate.tax_class == ZERO))
    db.session.commit()

    with pytest.raises(MissingTaxRate) as raised:
        compute("DE", "", [(1000, STD), (500, ZERO)], prices_include_tax=True)
    free = compute("DE", "", [(1000, STD), (0, ZERO)], (0, "?"), prices_include_tax=True)

    assert raised.value.tax_class == ZERO
    with force_locale("en"):
        assert str(raised.value.message).startswith("We cannot calculate the taxes")
    assert components(free) == [("VAT 19%", 190_000, 840, 160)]


@pytest.mark.parametrize("amount", [-1, 1.5, True])
def test_amounts_are_non_negative_integers(rates, amount):
    with pytest.raises(ValueError, match="minor units"):
        compute("FR", "", [(amount, STD)], prices_include_tax=True)


# -- defaults ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "standard", "reduced", "super_reduced"),
    [
        ("FR", 200_000, 55_000, 21_000),
        ("MC", 200_000, 55_000, 21_000),
        ("DE", 190_000, 70_000, 70_000),
        ("BE", 210_000, 60_000, 60_000),
        ("ES", 210_000, 100_000, 40_000),
        ("IT", 220_000, 50_000, 40_000),
        ("NL", 210_000, 90_000, 90_000),
        ("LU", 170_000, 80_000, 30_000),
        ("PT", 230_000, 60_000, 60_000),
        ("AT", 200_000, 100_000, 100_000),
        ("IE", 230_000, 90_000, 48_000),
    ],
)
def test_default_vat_rates_by_class(rates, country, standard, reduced, super_reduced):
    by_class = {
        tax_class: [
            c.rate_ppm
            for c in compute(country, "", [(10000, tax_class)], prices_include_tax=True).components
        ]
        for tax_class in TaxClass.ALL
    }

    assert by_class == {STD: [standard], RED: [reduced], SUPER: [super_reduced], ZERO: [0]}


@pytest.mark.parametrize(
    ("province", "expected"),
    [
        ("QC", [("GST", 50_000), ("QST", 99_750)]),
        ("ON", [("HST", 130_000)]),
        ("NS", [("HST", 140_000)]),
        ("NB", [("HST", 150_000)]),
        ("NL", [("HST", 150_000)]),
        ("PE", [("HST", 150_000)]),
        ("BC", [("GST", 50_000), ("PST", 70_000)]),
        ("SK", [("GST", 50_000), ("PST", 60_000)]),
        ("MB", [("GST", 50_000), ("RST", 70_000)]),
        ("AB", [("GST", 50_000)]),
        ("NT", [("GST", 50_000)]),
        ("NU", [("GST", 50_000)]),
        ("YT", [("GST", 50_000)]),
    ],
)
def test_default_canadian_rates(rates, province, expected):
    for tax_class in (STD, RED, SUPER):
        result = compute("CA", province, [(10000, tax_class)], prices_include_tax=False)
        assert [(c.name_en, c.rate_ppm) for c in result.components] == expected
    zero = compute("CA", province, [(10000, ZERO)], prices_include_tax=False)
    assert [(c.name_en, c.rate_ppm, c.amount) for c in zero.components] == [
        (name, 0, 0) for name, _ in expected
    ]


# What each destination is charged, written out here from the tax authorities' tables (rates
# in force on 1 January 2026), not read from ``shop.checkout.defaults``: per tax class
# (standard, reduced, super-reduced, zero), the components as (French name, English name,
# rate in per cent).
def _vat(percent: str) -> tuple[str, str, str]:
    return (f"TVA {percent.replace('.', ',')}\u202f%", f"VAT {percent}%", percent)


def _eu(standard: str, reduced: str, super_reduced: str) -> dict[str, list[tuple[str, str, str]]]:
    return {
        STD: [_vat(standard)],
        RED: [_vat(reduced)],
        SUPER: [_vat(super_reduced)],
        ZERO: [_vat("0")],
    }


def _canada(*components: tuple[str, str, str]) -> dict[str, list[tuple[str, str, str]]]:
    zero = [(fr, en, "0") for fr, en, _ in components]
    return {STD: list(components), RED: list(components), SUPER: list(components), ZERO: zero}


GST_5 = ("TPS", "GST", "5")
CHARGED = {
    ("FR", ""): _eu("20", "5.5", "2.1"),
    ("MC", ""): _eu("20", "5.5", "2.1"),  # Monaco applies French VAT
    ("BE", ""): _eu("21", "6", "6"),
    ("LU", ""): _eu("17", "8", "3"),
    ("DE", ""): _eu("19", "7", "7"),
    ("ES", ""): _eu("21", "10", "4"),
    ("IT", ""): _eu("22", "5", "4"),
    ("NL", ""): _eu("21", "9", "9"),
    ("PT", ""): _eu("23", "6", "6"),
    ("AT", ""): _eu("20", "10", "10"),
    ("IE", ""): _eu("23", "9", "4.8"),
    ("CA", "AB"): _canada(GST_5),
    ("CA", "BC"): _canada(GST_5, ("TVP", "PST", "7")),
    ("CA", "MB"): _canada(GST_5, ("TVD", "RST", "7")),
    ("CA", "NB"): _canada(("TVH", "HST", "15")),
    ("CA", "NL"): _canada(("TVH", "HST", "15")),
    ("CA", "NS"): _canada(("TVH", "HST", "14")),
    ("CA", "NT"): _canada(GST_5),
    ("CA", "NU"): _canada(GST_5),
    ("CA", "ON"): _canada(("TVH", "HST", "13")),
    ("CA", "PE"): _canada(("TVH", "HST", "15")),
    ("CA", "QC"): _canada(GST_5, ("TVQ", "QST", "9.975")),
    ("CA", "SK"): _canada(GST_5, ("TVP", "PST", "6")),
    ("CA", "YT"): _canada(GST_5),
}
# One line of each tax class and the delivery (standard class), in minor units.
BASKET = [(12345, STD), (6789, RED), (999, SUPER), (500, ZERO)]
DELIVERY = (690, STD)


def _half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _ppm(percent: str) -> int:
    return int(Decimal(percent) * 10_000)


def _expected_excluding_tax(charged) -> list[tuple[str, str, int, int, int]]:
    """Each component once (in the classes' order), on the sum of what it applies to,
    rounded half up once: (name_fr, name_en, rate_ppm, taxable, tax)."""
    bases: dict[tuple[str, str, str], int] = {}
    for amount, tax_class in [*BASKET, DELIVERY]:
        for component in charged[tax_class]:
            bases[component] = bases.get(component, 0) + amount
    order = [c for tax_class in (STD, RED, SUPER, ZERO) for c in charged[tax_class]]
    ranked = sorted(bases, key=order.index)
    return [
        (
            fr,
            en,
            _ppm(pct),
            bases[(fr, en, pct)],
            _half_up(bases[(fr, en, pct)] * Decimal(pct) / 100),
        )
        for fr, en, pct in ranked
    ]


def _expected_tax_included(charged) -> int:
    """Amounts with the same components form a group; the tax inside its gross G is
    G − round_half_up(G / (1 + total rate))."""
    groups: dict[tuple[tuple[str, str, str], ...], int] = {}
    for amount, tax_class in [*BASKET, DELIVERY]:
        key = tuple(charged[tax_class])
        groups[key] = groups.get(key, 0) + amount
    tax = 0
    for components, gross in groups.items():
        rate = sum(Decimal(pct) for _, _, pct in components) / 100
        tax += gross - _half_up(Decimal(gross) / (1 + rate))
    return tax


def test_the_expected_table_covers_every_supported_destination():
    destinations = {
        (country, region)
        for country in SUPPORTED_COUNTRIES
        for region in (list(CANADIAN_PROVINCES) if country == "CA" else [""])
    }
    assert set(CHARGED) == destinations


@pytest.mark.parametrize(
    ("country", "region"), list(CHARGED), ids=[f"{c}-{r}".strip("-") for c, r in CHARGED]
)
def test_every_supported_country_and_province_is_charged_its_rates(rates, country, region):
    charged = CHARGED[(country, region)]
    for tax_class, expected in charged.items():
        alone = compute(country, region, [(10000, tax_class)], prices_include_tax=False)
        assert [(c.name_fr, c.name_en, c.rate_ppm) for c in alone.components] == [
            (fr, en, _ppm(pct)) for fr, en, pct in expected
        ], tax_class

    excluded = compute(country, region, BASKET, DELIVERY, prices_include_tax=False)
    expected = _expected_excluding_tax(charged)
    assert [
        (c.name_fr, c.name_en, c.rate_ppm, c.taxable_amount, c.amount) for c in excluded.components
    ] == expected
    net = sum(amount for amount, _ in [*BASKET, DELIVERY])
    assert excluded.total == net + sum(tax for *_, tax in expected)

    included = compute(country, region, BASKET, DELIVERY, prices_include_tax=True)
    assert [(c.name_fr, c.name_en, c.rate_ppm) for c in included.components] == [
        (fr, en, rate) for fr, en, rate, _, _ in expected
    ]
    assert included.tax_total == _expected_tax_included(charged)
    assert included.total == net  # the prices shown are what the customer pays


def test_some_destinations_to_the_cent(rates):
    """A few of the amounts above written out by hand, as a check on the test's arithmetic."""
    quebec = compute("CA", "QC", BASKET, DELIVERY, prices_include_tax=False)
    # 12345 + 6789 + 999 + 690 = 20823: GST 1041.15 -> 1041, QST 2077.09 -> 2077
    assert [(c.name_en, c.taxable_amount, c.amount) for c in quebec.components] == [
        ("GST", 20823, 1041),
        ("QST", 20823, 2077),
        ("GST", 500, 0),
        ("QST", 500, 0),
    ]
    ontario = compute("CA", "ON", BASKET, DELIVERY, prices_include_tax=False)
    # 20823 × 13 % = 2706.99 -> 2707
    assert [(c.name_en, c.amount) for c in ontario.components] == [("HST", 2707), ("HST", 0)]
    france = compute("FR", "", BASKET, DELIVERY, prices_include_tax=False)
    # 20 %: 13035 -> 2607; 5.5 %: 6789 -> 373.395 -> 373; 2.1 %: 999 -> 20.979 -> 21
    assert [(c.name_en, c.taxable_amount, c.amount) for c in france.components] == [
        ("VAT 20%", 13035, 2607),
        ("VAT 5.5%", 6789, 373),
        ("VAT 2.1%", 999, 21),
        ("VAT 0%", 500, 0),
    ]
    germany = compute("DE", "", BASKET, DELIVERY, prices_include_tax=False)
    # 7 % covers the reduced and the super-reduced lines: 7788 -> 545.16 -> 545
    assert [(c.name_en, c.taxable_amount, c.amount) for c in germany.components] == [
        ("VAT 19%", 13035, 2477),
        ("VAT 7%", 7788, 545),
        ("VAT 0%", 500, 0),
    ]


def test_defaults_fill_an_empty_shop(app):
    with app.app_context():
        # 11 VAT countries × 4 classes; Canada: 17 components over 13 provinces × 4 classes
        assert load_defaults() == ["checkout: 112 tax rates, 4 shipping methods added"]


def test_defaults_load_once_and_keep_what_the_staff_changed(rates):
    db.session.execute(
        db.update(TaxRate)
        .where(TaxRate.country == "FR", TaxRate.tax_class == STD)
        .values(rate_ppm=210_000)
    )
    db.session.execute(db.delete(TaxRate).where(TaxRate.country == "NL"))
    db.session.commit()
    before = db.session.execute(db.select(func.count()).select_from(TaxRate)).scalar_one()

    lines = load_defaults()

    after = db.session.execute(db.select(func.count()).select_from(TaxRate)).scalar_one()
    assert lines == ["checkout: 4 tax rates, 0 shipping methods added"]
    assert after == before + 4
    assert compute("FR", "", [(1210, STD)], prices_include_tax=True).tax_total == 210
    assert load_defaults() == []


# -- store settings ----------------------------------------------------------------------


def test_prices_include_tax_by_default_and_can_be_switched_off(app):
    with app.app_context():
        assert settings.prices_include_tax() is True
        assert settings.get_setting("prices_include_tax", "unset") == "unset"

        settings.set_setting("prices_include_tax", "false")
        assert settings.prices_include_tax() is False

        settings.set_setting("prices_include_tax", "true")
        assert settings.prices_include_tax() is True
        assert settings.get_setting("prices_include_tax", "unset") == "true"


def test_settings_keep_any_text(app):
    with app.app_context():
        settings.set_setting("store_name", "Comptoir « Les Élégantes »")
        settings.set_setting("store_name", "Comptoir")

        assert settings.get_setting("store_name", "") == "Comptoir"
        assert settings.get_setting("missing", "fallback") == "fallback"
