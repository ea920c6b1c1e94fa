"""Taxes on a basket: which components apply at a destination, and how much each one is.

Amounts are integer minor units (cents), rates parts per million (``TaxRate.rate_ppm``);
there is no float anywhere. A destination is a country and a region ("QC", "ON", or "" when
the country has one set of rates): rows for the region when the region has any, otherwise
the rows for the whole country.

Rounding rule
-------------
1. Invoice-level rounding. Each component (a name and a rate: « TVA 20 % », « TPS »
   5 %, « TVQ » 9,975 %) is computed once, on the sum of the taxable amounts it applies
   to, and rounded half up to the cent once, never line by line: this is what French VAT
   and Canadian GST/QST returns expect.
2. Prices excluding tax (Canada): tax = round_half_up(net × rate) for each component, and
   the customer pays net + taxes.
3. Prices including tax (France): lines and shipping carrying the same components form a
   group with total rate R (the sum of its components, 14,975 % in Québec). The tax
   contained in the group's gross amount G is G − round_half_up(G / (1 + R)). It is split
   among the group's components in proportion to their rates, each share rounded half up,
   the cent left over (or one too many) going to the component with the largest rate, so
   the components add up exactly and the customer pays exactly the prices shown.
4. Per-line taxes: each component total (prices excluding tax) or group tax (prices
   including tax) is shared among the lines it covers in proportion to their amounts.
   Every line gets the floor of its exact share and the cents left go to the lines with
   the largest remainders, the larger line first on a tie. Line taxes add up to the
   components exactly, none is negative and none is more than a cent from its exact share.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, select

from shop.checkout import cache
from shop.checkout.models import TaxRate
from shop.extensions import db

MILLION = 1_000_000

# What identifies a component on an invoice: its names and its rate.
ComponentKey = tuple[str, str, int]


class TaxError(Exception):
    """An order we cannot tax; ``message`` is what the customer sees."""

    message = _l("We cannot calculate the taxes for this order. Please contact us.")


class UnsupportedDestination(TaxError):
    """No tax rates at all for this country (or this Canadian province): we do not sell there."""

    message = _l("We do not deliver to this destination yet.")

    def __init__(self, country: str, region: str = "") -> None:
        super().__init__(f"no tax rates for {country}/{region or '-'}")
        self.country = country
        self.region = region


class MissingTaxRate(TaxError):
    """The destination has rates, but none for this tax class: a setup problem for the staff."""

    def __init__(self, country: str, region: str, tax_class: str) -> None:
        super().__init__(f"no {tax_class!r} tax rate for {country}/{region or '-'}")
        self.country = country
        self.region = region
        self.tax_class = tax_class


@dataclass(frozen=True)
class TaxComponent:
    """One line of the tax summary (an ``order_tax_lines`` row): its base and its amount."""

    name_fr: str
    name_en: str
    rate_ppm: int
    taxable_amount: int
    amount: int

    def name(self, locale: str) -> str:
        return self.name_fr if locale == "fr" else self.name_en


@dataclass(frozen=True)
class TaxedAmount:
    """A line or the shipping: the amount as given, split into net and tax, and the
    components it was taxed at (what the order records and its invoice prints).

    ``components`` are its tax class's components at the destination, among those the
    basket was taxed with, in the position order of the tax rates: all of its class's for
    any amount charged; for an amount of zero, those the rest of the basket brought in.
    """

    amount: int
    net: int
    tax: int
    components: tuple[ComponentKey, ...] = ()

    @property
    def gross(self) -> int:
        return self.net + self.tax


NOTHING = TaxedAmount(0, 0, 0)


@dataclass(frozen=True)
class TaxResult:
    prices_include_tax: bool
    lines: list[TaxedAmount]  # in the order of the lines given
    shipping: TaxedAmount
    components: list[TaxComponent]  # in the position order of the tax rates
    subtotal_display: int  # the lines as shown (tax included when prices include tax)
    subtotal_excl: int  # the lines without tax
    shipping_excl: int
    tax_total: int
    total: int  # what the customer pays

    @property
    def line_taxes(self) -> list[int]:
        return [line.tax for line in self.lines]

    @property
    def total_excl(self) -> int:
        return self.subtotal_excl + self.shipping_excl


def compute(
    country: str,
    region: str,
    lines: Sequence[tuple[int, str]],
    shipping: tuple[int, str] | None = None,
    *,
    prices_include_tax: bool,
) -> TaxResult:
    """Tax a basket delivered to ``country``/``region``.

    ``lines`` are ``(line total as displayed, tax class)``; ``shipping`` likewise. Amounts
    are tax included when ``prices_include_tax``, else tax excluded. Raises
    ``UnsupportedDestination`` or ``MissingTaxRate``.
    """
    country = country.strip().upper()
    region = region.strip().upper()
    amounts = [*lines, shipping or (0, "")]
    for amount, _ in amounts:
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise ValueError(f"amounts are non-negative integers in minor units, not {amount!r}")

    components_of_class, order = _rates(country, region)
    covered: list[tuple[ComponentKey, ...]] = []
    for amount, tax_class in amounts:
        keys = components_of_class.get(tax_class, ()) if amount else ()
        if amount and not keys:
            raise MissingTaxRate(country, region, tax_class)
        covered.append(keys)

    if prices_include_tax:
        taxes, taxable, tax_of = _tax_included([a for a, _ in amounts], covered)
    else:
        taxes, taxable, tax_of = _tax_excluded([a for a, _ in amounts], covered)

    taxed = [
        TaxedAmount(
            amount,
            amount - tax if prices_include_tax else amount,
            tax,
            tuple(key for key in components_of_class.get(tax_class, ()) if key in taxes),
        )
        for (amount, tax_class), tax in zip(amounts, tax_of, strict=True)
    ]
    components = [
        TaxComponent(key[0], key[1], key[2], taxable[key], taxes[key])
        for key in sorted(taxes, key=order.__getitem__)
    ]
    line_results = taxed[:-1]
    shipping_result = taxed[-1] if shipping else NOTHING
    subtotal_excl = sum(line.net for line in line_results)
    tax_total = sum(component.amount for component in components)
    return TaxResult(
        prices_include_tax=prices_include_tax,
        lines=line_results,
        shipping=shipping_result,
        components=components,
        subtotal_display=sum(line.amount for line in line_results),
        subtotal_excl=subtotal_excl,
        shipping_excl=shipping_result.net,
        tax_total=tax_total,
        total=subtotal_excl + shipping_result.net + tax_total,
    )


_RATES = (
    select(
        TaxRate.region,
        TaxRate.tax_class,
        TaxRate.name_fr,
        TaxRate.name_en,
        TaxRate.rate_ppm,
    )
    .where(
        TaxRate.country == bindparam("country"),
        TaxRate.region.in_(bindparam("regions", expanding=True)),
    )
    .order_by(TaxRate.position, TaxRate.id)
)


def _rate_rows(country: str, region: str) -> tuple[tuple[str, str, str, str, int], ...]:
    """The destination's rows (its region's and its country's), read through the cache."""
    return cache.cached(
        ("tax_rates", country, region),
        lambda: tuple(
            tuple(row)
            for row in db.session.execute(
                _RATES, {"country": country, "regions": sorted({region, ""})}
            )
        ),
    )


def _rates(
    country: str, region: str
) -> tuple[dict[str, tuple[ComponentKey, ...]], dict[ComponentKey, int]]:
    """The components of each tax class at the destination, and each component's rank."""
    by_region: dict[str, list[tuple[str, str, str, str, int]]] = defaultdict(list)
    for row in _rate_rows(country, region):
        by_region[row[0]].append(row)
    chosen = (by_region.get(region) if region else None) or by_region.get("")
    if not chosen:
        raise UnsupportedDestination(country, region)
    classes: dict[str, dict[ComponentKey, None]] = defaultdict(dict)
    order: dict[ComponentKey, int] = {}
    for _, tax_class, name_fr, name_en, rate_ppm in chosen:
        key = (name_fr, name_en, rate_ppm)
        classes[tax_class][key] = None
        order.setdefault(key, len(order))
    return {name: tuple(keys) for name, keys in classes.items()}, order


def _tax_excluded(
    amounts: list[int], covered: list[tuple[ComponentKey, ...]]
) -> tuple[dict[ComponentKey, int], dict[ComponentKey, int], list[int]]:
    taxable: dict[ComponentKey, int] = defaultdict(int)
    members: dict[ComponentKey, list[int]] = defaultdict(list)
    for index, keys in enumerate(covered):
        for key in keys:
            taxable[key] += amounts[index]
            members[key].append(index)
    taxes: dict[ComponentKey, int] = {}
    tax_of = [0] * len(amounts)
    for key, base in taxable.items():
        taxes[key] = _div_half_up(base * key[2], MILLION)
        shares = _allocate(taxes[key], [amounts[i] for i in members[key]])
        for index, share in zip(members[key], shares, strict=True):
            tax_of[index] += share
    return taxes, taxable, tax_of


def _tax_included(
    amounts: list[int], covered: list[tuple[ComponentKey, ...]]
) -> tuple[dict[ComponentKey, int], dict[ComponentKey, int], list[int]]:
    groups: dict[tuple[ComponentKey, ...], list[int]] = defaultdict(list)
    for index, keys in enumerate(covered):
        if keys:
            groups[keys].append(index)
    taxes: dict[ComponentKey, int] = defaultdict(int)
    taxable: dict[ComponentKey, int] = defaultdict(int)
    tax_of = [0] * len(amounts)
    for keys, indexes in groups.items():
        gross = sum(amounts[i] for i in indexes)
        net = _div_half_up(gross * MILLION, MILLION + sum(key[2] for key in keys))
        tax = gross - net
        for key, share in zip(keys, _split_by_rate(tax, [key[2] for key in keys]), strict=True):
            taxes[key] += share
            taxable[key] += net
        shares = _allocate(tax, [amounts[i] for i in indexes])
        for index, share in zip(indexes, shares, strict=True):
            tax_of[index] = share
    return taxes, taxable, tax_of


def _div_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up, both non-negative and exact."""
    return (2 * numerator + denominator) // (2 * denominator)


def _split_by_rate(tax: int, rates: list[int]) -> list[int]:
    """``tax`` shared in proportion to ``rates``; the difference goes to the largest rate."""
    total_rate = sum(rates)
    if total_rate == 0:
        return [0] * len(rates)
    shares = [_div_half_up(tax * rate, total_rate) for rate in rates]
    largest = rates.index(max(rates))
    shares[largest] += tax - sum(shares)
    return shares


def _allocate(total: int, weights: list[int]) -> list[int]:
    """``total`` shared in proportion to ``weights`` by largest remainder (see rule 4)."""
    whole = sum(weights)
    if whole == 0:
        return [0] * len(weights)
    shares = [total * weight // whole for weight in weights]
    remainders = [total * weight % whole for weight in weights]
    left = total - sum(shares)
    ranked = sorted(range(len(weights)), key=lambda i: (-remainders[i], -weights[i], i))
    for index in ranked[:left]:
        shares[index] += 1
    return shares
