"""What checkout reads: tax rates by destination and tax class, and shipping methods."""

from __future__ import annotations

from sqlalchemy import JSON, CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from shop.extensions import db


class TaxRate(db.Model):
    """One tax component for a destination and tax class (Québec has two: GST and QST).

    ``rate_ppm`` is the rate in parts per million: 20 % = 200000, 9.975 % = 99750.
    ``region`` is empty for a whole country.
    """

    __tablename__ = "tax_rates"
    __table_args__ = (
        CheckConstraint("rate_ppm >= 0 AND rate_ppm <= 1000000", name="rate_in_range"),
        Index("ix_tax_rates_lookup", "country", "region", "tax_class"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    country: Mapped[str] = mapped_column(String(2))
    region: Mapped[str] = mapped_column(String(8), default="")
    tax_class: Mapped[str] = mapped_column(String(16))
    name_fr: Mapped[str] = mapped_column(String(60))
    name_en: Mapped[str] = mapped_column(String(60))
    rate_ppm: Mapped[int] = mapped_column()
    position: Mapped[int] = mapped_column(default=0)

    def name(self, locale: str) -> str:
        return self.name_fr if locale == "fr" else self.name_en


class ShippingKind:
    FLAT = "flat"
    FREE_OVER = "free_over"
    PICKUP = "pickup"
    ALL = (FLAT, FREE_OVER, PICKUP)


class ShippingMethod(db.Model):
    __tablename__ = "shipping_methods"
    __table_args__ = (
        CheckConstraint(f"kind IN {ShippingKind.ALL!r}", name="kind_known"),
        CheckConstraint("price >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    name_fr: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str] = mapped_column(String(80))
    price: Mapped[int] = mapped_column(default=0)  # minor units, as prices are entered
    free_over: Mapped[int | None] = mapped_column()  # subtotal from which it is free
    countries: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: everywhere
    active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)
    tax_class: Mapped[str] = mapped_column(String(16), default="standard")

    def name(self, locale: str) -> str:
        return self.name_fr if locale == "fr" else self.name_en
