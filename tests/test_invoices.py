"""Invoices and credit notes on real PostgreSQL, rendered by real WeasyPrint, read by poppler."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from shop import queue
from shop.cart.models import Cart, CartItem
from shop.catalogue.models import Product, ProductVariant
from shop.checkout import services as checkout
from shop.checkout import settings as tax_settings
from shop.checkout.defaults import load_defaults
from shop.checkout.models import TaxRate
from shop.checkout.services import CheckoutDetails
from shop.clock import utcnow
from shop.extensions import db
from shop.inventory import services as inventory
from shop.invoices import services as invoices
from shop.invoices.models import Invoice, InvoiceKind
from shop.invoices.pdf import render_pdf, render_pending
from shop.orders import services as orders
from shop.orders.models import Order
from tests import catalogue_factory
from tests.test_orders import ADDRESS

FRENCH_ADDRESS = ADDRESS
QUEBEC_ADDRESS = {
    **FRENCH_ADDRESS,
    "first_name": "Gabrielle",
    "last_name": "Tremblay",
    "line1": "350 rue Saint-Paul Est",
    "postal_code": "H2Y 1H2",
    "city": "Montréal",
    "country": "CA",
    "region": "QC",
}


@pytest.fixture
def shop(app):
    with app.app_context():
        return _stocked_shop()


def _stocked_shop() -> dict:
    ids = catalogue_factory.build(6)
    load_defaults()
    invoices.load_demo_identity()
    # Product 2 sells at the reduced rate: the invoice then shows two VAT rates.
    db.session.get(Product, ids["products"][2]).tax_class = "reduced"
    db.session.commit()
    for product_id in ids["products"][2:5]:
        inventory.receive(_variant(product_id), 50, reason="invoice tests")
    return ids


def _variant(product_id: int) -> int:
    return (
        db.session.execute(
            db.select(ProductVariant.id)
            .where(ProductVariant.product_id == product_id)
            .order_by(ProductVariant.id)
        )
        .scalars()
        .first()
    )


def _order(
    items: list[tuple[int, int]],
    *,
    address: dict[str, str] = FRENCH_ADDRESS,
    locale: str = "fr",
    shipping: str = "colissimo",
    paid: bool = True,
) -> int:
    cart = Cart(token=secrets.token_urlsafe(16), locale=locale)
    cart.items = [CartItem(variant_id=v, quantity=q, unit_price=0) for v, q in items]
    db.session.add(cart)
    db.session.commit()
    checkout.start_checkout(cart.id)
    order = checkout.place_order(
        cart.id,
        CheckoutDetails(
            email=f"{address['first_name'].lower()}@example.com",
            shipping_address=address,
            billing_address=address,
            shipping_method=shipping,
            payment_method="bank_transfer",
            locale=locale,
        ),
    )
    if paid:
        assert orders.mark_paid(order.id, provider="bank_transfer") is True
    return order.id


def _text(path: Path) -> str:
    """The PDF's text, one line per printed line, runs of spaces squeezed."""
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return "\n".join(re.sub(r"[ \u00a0\u202f]+", " ", line).strip() for line in out.splitlines())


def _squeeze(text: str) -> str:
    return re.sub(r"[ \u00a0\u202f]+", " ", text)


def test_french_invoice_prints_every_mandatory_mention(app, shop):
    with app.app_context():
        products = shop["products"]
        order_id = _order([(_variant(products[1]), 2), (_variant(products[2]), 3)])
        invoice = invoices.issue_invoice(order_id)
        tax_total = db.session.get(Order, order_id).tax_total
        year = utcnow().year
        assert invoice.full_number == f"F-{year}-000001"
        assert (invoice.kind, invoice.series, invoice.number) == ("invoice", "F", 1)
        path = render_pdf(invoice.id)
        text = _text(path)
        data = invoice.data

    assert path.is_relative_to(Path(app.instance_path) / "invoices")
    assert f"F-{year}-000001" in text
    assert "Facture" in text
    # Seller: legal name, address, SIRET, VAT number.
    assert "Comptoir Démo SAS" in text
    assert "1 rue de l’Exemple" in text and "75001 Paris" in text
    assert "SIRET 000 000 000 00000" in text
    assert "N° de TVA intracommunautaire FR12 000000000" in text
    assert "RCS Paris 000 000 000" in text
    assert "Capital social : 1 000,00 €" in text
    # Buyer: name and billing address.
    assert "Camille Durand" in text
    assert "12 rue des Lilas" in text and "75011 Paris" in text
    # Lines: designation, quantity, unit price excl. tax, VAT rate, discount, total excl. tax.
    # 2 × 45 € TTC at 20 %: 75 € HT; 3 × 12 € TTC at 5,5 %: 34,12 € HT (unit 11,37 €).
    [table, stool] = data["lines"]
    assert (table["quantity"], table["unit_price_excl"], table["total_excl"]) == (2, 3750, 7500)
    assert stool["quantity"] == 3 and stool["total_excl"] + stool["tax"] == 3600
    assert stool["unit_price_excl"] == (2 * stool["total_excl"] + 3) // 6
    assert re.search(r"Table en chêne n° 1 2 37,50 € 20 % 0,00 € 75,00 €", text), text
    stool_price = f"{stool['unit_price_excl'] / 100:.2f}".replace(".", ",")
    stool_total = f"{stool['total_excl'] / 100:.2f}".replace(".", ",")
    assert re.search(
        rf"Chaise en chêne n° 2 3 {stool_price} € 5,5 % 0,00 € {stool_total} €", text
    ), text
    # Shipping is free over 60 €, so no shipping line.
    assert data["shipping"] is None
    # VAT per rate, and the totals.
    assert [(t["name"]["fr"], t["amount"]) for t in data["taxes"]] == [
        ("TVA 20\u202f%", 1500),
        ("TVA 5,5\u202f%", 3600 - stool["total_excl"]),
    ]
    assert "TVA 20 % 75,00 € 15,00 €" in text
    assert data["totals"] == {
        "excl": 7500 + stool["total_excl"],
        "tax": tax_total,
        "incl": 12600,
    }
    excl = f"{data['totals']['excl'] / 100:.2f}".replace(".", ",")
    assert f"Total HT {excl} €" in text
    assert "Total TTC 126,00 €" in text
    # Dates: issue and payment.
    assert re.search(rf"Date \d{{1,2}} \w+ {year}", text)
    assert re.search(rf"Payée le \d{{1,2}} \w+ {year}\.", text), text
    assert "Page 1 / 1" in text


def test_english_invoice_reads_in_english_and_french_is_always_available(app, shop):
    with app.app_context():
        order_id = _order([(_variant(shop["products"][3]), 1)], locale="en")
        invoice = invoices.issue_invoice(order_id)
        assert invoice.locale == "en"
        english = _text(render_pdf(invoice.id))
        french_path = render_pdf(invoice.id, locale="fr")
        french = _text(french_path)
        db.session.refresh(invoice)
        assert invoice.pdf_path.endswith(f"{invoice.full_number}.pdf")  # the English one

    assert "Invoice" in english and "BILLED TO" in english
    assert "Oak table no. 3" in english
    assert "Unit price" in english and "VAT 20%" in english
    assert "Shipping: Colissimo home delivery" in english
    assert "€5.75" in english  # 6,90 € TTC at 20 %
    assert re.search(r"Paid on \w+ \d{1,2}, \d{4}\.", english), english
    assert "Page 1 / 1" in english
    assert french_path.name == f"{invoice.full_number}.fr.pdf"
    assert "Facture" in french and "Table en chêne n° 3" in french
    assert "5,75 €" in french


def test_quebec_invoice_shows_gst_and_qst_separately_with_both_numbers(app, shop):
    with app.app_context():
        order_id = _order(
            [(_variant(shop["products"][1]), 1)], address=QUEBEC_ADDRESS, shipping="canada-post"
        )
        invoice = invoices.issue_invoice(order_id)
        text = _text(render_pdf(invoice.id))
        taxes = invoice.data["taxes"]

    assert [(t["name"]["fr"], t["rate_ppm"]) for t in taxes] == [("TPS", 50_000), ("TVQ", 99_750)]
    assert "N° d’inscription TPS 000000000 RT0001" in text
    assert "N° d’inscription TVQ 0000000000 TQ0001" in text
    gst, qst = (f"{t['amount'] / 100:.2f}".replace(".", ",") for t in taxes)
    assert re.search(rf"TPS 5 % [\d,]+ € {gst} €", text), text
    assert re.search(rf"TVQ 9,975 % [\d,]+ € {qst} €", text), text
    assert "Gabrielle Tremblay" in text and "Montréal" in text
    assert "TPS 5 % + TVQ 9,975 %" in text  # the line's rates


def test_issuing_twice_returns_the_same_invoice(app, shop):
    with app.app_context():
        order_id = _order([(_variant(shop["products"][3]), 1)])
        first = invoices.issue_invoice(order_id)
        again = invoices.issue_invoice(order_id)
        assert again.id == first.id
        path = render_pdf(first.id)
        stamp = path.stat().st_mtime_ns
        assert render_pdf(first.id) == path
        assert path.stat().st_mtime_ns == stamp  # written once
        db.session.refresh(first)
        import hashlib

        assert first.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert db.session.execute(db.select(db.func.count(Invoice.id))).scalar() == 1


def test_an_unpaid_order_gets_no_invoice(app, shop):
    with app.app_context():
        order_id = _order([(_variant(shop["products"][3]), 1)], paid=False)
        with pytest.raises(invoices.OrderNotPaid):
            invoices.issue_invoice(order_id)
        assert db.session.execute(db.select(db.func.count(Invoice.id))).scalar() == 0
        # Nothing was allocated: the first paid order still gets number 1.
        orders.mark_paid(order_id, provider="bank_transfer")
        assert invoices.issue_invoice(order_id).number == 1


def test_a_refund_issues_a_credit_note_referencing_the_invoice(app, shop):
    with app.app_context():
        order_id = _order([(_variant(shop["products"][1]), 2)])
        invoice = invoices.issue_invoice(order_id)
        partial = orders.refund(order_id, 1200, reason="Rayure sur le plateau")
        note = invoices.issue_credit_note(partial.id)
        assert invoices.issue_credit_note(partial.id).id == note.id
        assert (note.kind, note.credits_invoice_id, note.refund_id) == (
            InvoiceKind.CREDIT_NOTE,
            invoice.id,
            partial.id,
        )
        assert note.full_number == f"AV-{utcnow().year}-000001"
        assert note.data["totals"]["incl"] == 1200
        assert note.data["totals"]["tax"] == 200  # 12 € TTC at 20 %: 2 € of VAT credited
        text = _text(render_pdf(note.id))
        rest = orders.refund(order_id, 9000 - 1200)
        second = invoices.issue_credit_note(rest.id)
        invoice_number, second_number = invoice.full_number, second.full_number
        second_total = second.data["totals"]["incl"]

    assert "Avoir" in text
    assert f"Avoir sur la facture {invoice_number} du" in text
    assert "Remboursement partiel" in text
    assert "Total crédité TTC 12,00 €" in text
    assert "Comptoir Démo SAS" in text and "Camille Durand" in text
    assert second_number == f"AV-{utcnow().year}-000002"
    assert second_total == 7800


def test_a_refund_before_the_invoice_issues_both_in_order(app, shop):
    with app.app_context():
        order_id = _order([(_variant(shop["products"][1]), 1)])
        refund = orders.refund(order_id, 4500 + 690)
        note = invoices.issue_credit_note(refund.id)
        invoice = invoices.invoice_of(order_id)
        assert note.credits_invoice_id == invoice.id
        assert note.data["lines"] == invoice.data["lines"]  # a full refund repeats the lines
        assert note.data["totals"] == invoice.data["totals"]


def test_twenty_concurrent_payments_get_twenty_consecutive_numbers(app, shop):
    """The proof: 20 orders paid at once, each issuing its invoice → N+1 … N+20, no gap."""
    with app.app_context():
        first = _order([(_variant(shop["products"][3]), 1)])
        start = invoices.issue_invoice(first).number
        variant_id = _variant(shop["products"][4])
        pending = [_order([(variant_id, 1)], paid=False) for _ in range(20)]
    go = threading.Barrier(20)

    def pay_and_issue(order_id: int) -> str:
        with app.app_context():
            go.wait()
            try:
                assert orders.mark_paid(order_id, provider="bank_transfer")
                return invoices.issue_invoice(order_id).full_number
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=20) as pool:
        numbers = list(pool.map(pay_and_issue, pending))
    year = utcnow().year
    assert len(set(numbers)) == 20
    assert sorted(numbers) == [f"F-{year}-{n:06d}" for n in range(start + 1, start + 21)]
    with app.app_context():
        stored = db.session.execute(
            db.select(Invoice.number).where(Invoice.kind == "invoice").order_by(Invoice.number)
        ).scalars()
        assert list(stored) == list(range(start, start + 21))


def test_download_serves_the_pdf_to_the_token_holder_only(app, shop, client):
    with app.app_context():
        order_id = _order([(_variant(shop["products"][3]), 1)])
        other_id = _order([(_variant(shop["products"][3]), 1)])
        invoice = invoices.issue_invoice(order_id)
        other = invoices.issue_invoice(other_id)
        order = db.session.get(Order, order_id)
        token = orders.access_token(order)
        number = invoice.full_number
        invoice_id, other_invoice_id = invoice.id, other.id
        assert invoice.pdf_path is None  # not rendered yet: a job renders it, never a request

    with client.get(f"/fr/commande/{token}/facture/{invoice_id}.pdf") as waiting:
        assert waiting.status_code == 202
        assert waiting.mimetype == "text/html"
        assert waiting.headers["Retry-After"] == "5"
        assert waiting.headers["Cache-Control"] == "private, no-store"
        assert "Votre facture est en cours de préparation" in waiting.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Invoice, invoice_id).pdf_path is None  # the request rendered none
        queued = [job.func_name for job in queue.queue(app).jobs]
        assert "shop.jobs.render_pending_documents" in queued
        assert render_pending() == 2  # what that job does: both invoices, once each
        assert render_pending() == 0

    with client.get(f"/fr/commande/{token}/facture/{invoice_id}.pdf") as response:
        assert response.status_code == 200
        assert response.mimetype == "application/pdf"
        assert response.headers["Cache-Control"] == "private, no-store"
        assert response.headers["Content-Disposition"] == f"inline; filename={number}.pdf"
        french = response.data
    assert french.startswith(b"%PDF-")
    with client.get(f"/en/checkout/{token}/invoice/{invoice_id}.pdf") as english:
        assert english.status_code == 200
        assert english.data == french  # a French order's document of record
    for url in (
        f"/fr/commande/{token}x/facture/{invoice_id}.pdf",
        f"/fr/commande/{token}/facture/{other_invoice_id}.pdf",
        f"/fr/commande/{token}/facture/999999.pdf",
    ):
        with client.get(url) as refused:
            assert refused.status_code == 404
    with app.app_context():
        assert db.session.get(Invoice, invoice_id).sha256 is not None


def test_fonts_are_embedded(app, shop):
    with app.app_context():
        order_id = _order([(_variant(shop["products"][3]), 1)])
        path = render_pdf(invoices.issue_invoice(order_id).id)
    out = subprocess.run(
        ["pdffonts", str(path)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    fonts = [line for line in out[2:] if line.strip()]
    assert fonts
    assert any(line.split()[0].endswith("+Liberation-Sans") for line in fonts)
    for line in fonts:
        assert re.search(r"\byes\s+(yes|no)\s+(yes|no)\s+\d+\s+\d+\s*$", line), line
        columns = line.split()
        assert columns[-5] == "yes", line  # emb


def test_the_worker_warm_up_lays_out_its_sample_like_a_real_snapshot(app, shop):
    import json

    from shop.invoices import pdf

    def shape(value):
        """Keys all the way down (lists: their first item's), without the values."""
        if isinstance(value, dict):
            return {key: shape(item) for key, item in value.items()}
        if isinstance(value, list):
            return [shape(value[0])] if value else []
        return type(value).__name__ if value is not None else None

    sample = json.loads(pdf.WARM_UP_SAMPLE.read_text(encoding="utf-8"))
    folder = Path(app.instance_path) / "invoices"
    with app.app_context():
        invoice = invoices.issue_invoice(_order([(_variant(shop["products"][3]), 2)]))
        assert shape(sample) == shape(invoice.data)  # the sample follows the snapshot's schema
        files = set(folder.rglob("*"))
        assert pdf.warm_up_layout() is True
        db.session.refresh(invoice)
        assert (invoice.pdf_path, invoice.sha256) == (None, None)
    assert set(folder.rglob("*")) == files  # nothing written


# -- the rates sold, kept --------------------------------------------------------------------

VAT_20 = {"name_fr": "TVA 20\u202f%", "name_en": "VAT 20%", "rate_ppm": 200_000}
VAT_5_5 = {"name_fr": "TVA 5,5\u202f%", "name_en": "VAT 5.5%", "rate_ppm": 55_000}
GST = {"name_fr": "TPS", "name_en": "GST", "rate_ppm": 50_000}
QST = {"name_fr": "TVQ", "name_en": "QST", "rate_ppm": 99_750}
BEFORE_KEPT_RATES = "3ca89dd62079"  # the revision before order lines kept their rates


def _printed(component: dict) -> dict:
    return {
        "fr": component["name_fr"],
        "en": component["name_en"],
        "rate_ppm": component["rate_ppm"],
    }


def _change_rates(country: str, region: str, rate_ppm: int, new_rate_ppm: int, **names) -> None:
    """The staff's change of a destination's rate (in every tax class that has it), through
    the back office's service; ``names`` (name_fr, name_en) renames it too."""
    ids = db.session.scalars(
        db.select(TaxRate.id).where(
            TaxRate.country == country, TaxRate.region == region, TaxRate.rate_ppm == rate_ppm
        )
    ).all()
    assert ids
    for rate_id in ids:
        snapshot = tax_settings.tax_rate_snapshot(tax_settings.tax_rate(rate_id))
        tax_settings.update_tax_rate(
            rate_id, tax_settings.TaxRateData(**{**snapshot, "rate_ppm": new_rate_ppm, **names})
        )


def _vat(percent: str) -> dict[str, str]:
    return {"name_fr": f"TVA {percent.replace('.', ',')}\u202f%", "name_en": f"VAT {percent}%"}


def _kept_rates(order_id: int) -> tuple[list, list, bool]:
    order = db.session.get(Order, order_id)
    return (
        [line.tax_components for line in order.lines],
        order.shipping_tax_components,
        order.tax_rates_backfilled,
    )


def test_a_rate_changed_after_the_sale_changes_nothing_on_its_documents(app, shop):
    with app.app_context():
        products = shop["products"]
        # 45 € at 20 % and 12 € at 5,5 %: under 60 €, so Colissimo is charged (at 20 %).
        lines = [(_variant(products[1]), 1), (_variant(products[2]), 1)]
        french = _order(lines)
        quebec = _order(
            [(_variant(products[1]), 1)], address=QUEBEC_ADDRESS, shipping="canada-post"
        )
        refunded = _order(lines)  # refunded in full after the change, not invoiced before
        assert _kept_rates(french) == ([[VAT_20], [VAT_5_5]], [VAT_20], False)
        assert _kept_rates(quebec) == ([[GST, QST]], [GST, QST], False)
        before = {
            order_id: invoices.invoice_data(db.session.get(Order, order_id))
            for order_id in (french, quebec)
        }
        assert [line["rates"] for line in before[french]["lines"]] == [
            [_printed(VAT_20)],
            [_printed(VAT_5_5)],
        ]
        assert before[french]["shipping"]["rates"] == [_printed(VAT_20)]
        assert before[quebec]["lines"][0]["rates"] == [_printed(GST), _printed(QST)]
        frozen = {order_id: json.dumps(data) for order_id, data in before.items()}

        _change_rates("FR", "", 200_000, 210_000, **_vat("21"))
        _change_rates("FR", "", 55_000, 60_000, **_vat("6"))
        _change_rates("CA", "QC", 99_750, 100_000)
        db.session.expire_all()

        # Rebuilt after the change, and issued after it: the same data, field for field.
        for order_id in (french, quebec):
            after = invoices.invoice_data(db.session.get(Order, order_id))
            assert after == before[order_id]
            assert json.dumps(after) == frozen[order_id]
            invoice = invoices.issue_invoice(order_id)
            issued = {k: v for k, v in invoice.data.items() if k not in ("number", "issued_at")}
            assert json.dumps(issued) == frozen[order_id]
        # A partial refund credits the rates sold.
        partial = orders.refund(french, 1000, reason="Rayure")
        note = invoices.issue_credit_note(partial.id).data
        assert note["lines"][0]["rates"] == [_printed(VAT_20), _printed(VAT_5_5)]
        assert [t["rate_ppm"] for t in note["taxes"]] == [200_000, 55_000]
        # A full refund of an order sold before the change, invoiced after it.
        total = db.session.get(Order, refunded).total
        full = invoices.issue_credit_note(orders.refund(refunded, total).id).data
        for key in ("lines", "shipping", "taxes", "totals"):
            assert full[key] == before[french][key]
        # The change applies from the next sale on.
        later = invoices.invoice_data(db.session.get(Order, _order(lines)))
        assert [line["rates"][0]["rate_ppm"] for line in later["lines"]] == [210_000, 60_000]


def test_the_migration_fills_in_the_rates_of_orders_placed_before_it(tmp_path):
    """On SQLite: orders placed at head, their kept rates dropped by going down one revision,
    then filled in again by the migration from the tax rates of the day."""
    import flask_migrate

    from shop import create_app
    from shop.queue import wait_for_inprocess_jobs

    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'shop.db'}",
            "REDIS_URL": "",
            "SMTP_URL": "",
            "SECRET_KEY": "migration-test-secret-key-0123456789",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "ARGON2_TIME_COST": "1",
            "ARGON2_MEMORY_COST": "8192",
            "LOG_LEVEL": "WARNING",
        }
    )
    try:
        with app.app_context():
            flask_migrate.upgrade()
            products = _stocked_shop()["products"]
            french = _order([(_variant(products[1]), 1), (_variant(products[2]), 1)], paid=False)
            quebec = _order(
                [(_variant(products[1]), 1)],
                address=QUEBEC_ADDRESS,
                shipping="canada-post",
                paid=False,
            )
            sold = {
                order_id: (
                    _kept_rates(order_id)[:2],
                    invoices.invoice_data(db.session.get(Order, order_id)),
                )
                for order_id in (french, quebec)
            }
            assert sold[quebec][0] == (
                [[GST, QST]],
                [GST, QST],
            )
            wait_for_inprocess_jobs(app)
            db.session.remove()
            flask_migrate.downgrade(revision=BEFORE_KEPT_RATES)
            # France's standard rate changed since: the lines sold at 20 % no longer match
            # it and take the order's own tax line that explains their tax.
            _change_rates("FR", "", 200_000, 210_000, **_vat("21"))
            db.session.remove()
            flask_migrate.upgrade()
            for order_id, (kept, data) in sold.items():
                assert _kept_rates(order_id) == (*kept, True)
                assert invoices.invoice_data(db.session.get(Order, order_id)) == data
    finally:
        with app.app_context():
            wait_for_inprocess_jobs(app)
            db.session.remove()
            db.engine.dispose()
