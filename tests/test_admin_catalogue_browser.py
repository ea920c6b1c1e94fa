"""The catalogue journey in Chromium: a manager creates a product in French and English, adds
a variant and an image, publishes it; shoppers then find it in both languages, it is in the
sitemap, and ``flask shop seo-check`` passes."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from shop.catalogue.models import Product, ProductImage
from shop.catalogue.services import Text
from shop.extensions import db
from tests import catalogue_factory
from tests.admin_support import login_staff
from tests.test_images import wait_for_renditions
from tests.test_payments_browser import watch_console

pytestmark = pytest.mark.browser

USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) Comptoir-catalogue-journey"
NS = {"sm": "http://www.sitemaps.org/schemas/sitemap/0.9"}


@pytest.fixture
def manager_page(app, live, browser: Browser):
    """A Chromium page signed in as a manager (two-factor passed), working in French."""
    with app.app_context():
        catalogue_factory.category("Luminaires", "Lighting")
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = USER_AGENT  # the session is bound to it
    login_staff(client, app, "manager")
    cookie = client.get_cookie("comptoir_session")
    context = browser.new_context(user_agent=USER_AGENT)
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live.url}])
    page = context.new_page()
    yield page
    context.close()


def photo(tmp_path) -> str:
    gradient = Image.linear_gradient("L").resize((900, 600))
    path = tmp_path / "lampe.jpg"
    Image.merge("RGB", (gradient, gradient.rotate(90).resize((900, 600)), gradient)).save(
        path, "JPEG"
    )
    return str(path)


def sitemap_urls(client) -> set[str]:
    index = ET.fromstring(client.get("/sitemap.xml").data)
    urls: set[str] = set()
    for loc in index.findall("sm:sitemap/sm:loc", NS):
        child = ET.fromstring(client.get(loc.text.replace("http://127.0.0.1:5000", "")).data)
        urls |= {u.text for u in child.findall("sm:url/sm:loc", NS)}
    return urls


def test_a_manager_creates_and_publishes_a_bilingual_product(
    app, live, manager_page: Page, rq_worker, tmp_path
):
    page = manager_page
    problems = watch_console(page)

    # Create: French and English side by side, with the live search-result preview.
    page.goto(live.url + "/admin/products")
    page.get_by_role("link", name="Nouveau produit").click()
    page.get_by_label("Titre (français)", exact=True).fill("Lampe « Aurore » en laiton")
    expect(page.locator("#seo-fr .serp-title")).to_have_text(
        "Lampe « Aurore » en laiton · Comptoir"
    )
    expect(page.locator("#seo-fr .serp-url")).to_have_text(
        "http://127.0.0.1:5000/fr/produits/lampe-aurore-en-laiton"
    )
    page.get_by_label("Description du produit (français)").fill(
        "<p>Une lampe de bureau en laiton brossé, abat-jour orientable.</p>"
    )
    page.get_by_label("Méta-description (français)").fill(
        "Lampe de bureau en laiton brossé, abat-jour orientable, fabriquée en France."
    )
    # Hiding the page from search engines shows in both previews at once, and is undone.
    hidden = page.get_by_label("Masquer aux moteurs de recherche (noindex)")
    hidden.check()
    expect(page.locator("#seo-fr .serp-noindex")).to_contain_text("Masquée aux moteurs")
    expect(page.locator("#seo-en .serp-noindex")).to_have_count(1)
    hidden.uncheck()
    expect(page.locator(".serp-noindex")).to_have_count(0)
    page.get_by_label("Titre (anglais)", exact=True).fill("Aurora brass lamp")
    page.get_by_label("Description du produit (anglais)").fill(
        "<p>A brushed brass desk lamp with an adjustable shade.</p>"
    )
    expect(page.locator("#seo-en .serp-description")).to_have_text(
        "A brushed brass desk lamp with an adjustable shade."
    )
    page.get_by_label("Catégorie", exact=True).select_option(label="Luminaires")
    page.get_by_role("button", name="Créer le produit").click()
    expect(page.locator(".flash")).to_have_text("Le produit a été créé.")
    expect(page.locator("#product-status")).to_have_text("Brouillon")

    # A variant: the SKU is checked while typed, the price typed the French way.
    variants = page.locator("#variants")
    variants.get_by_label("Réf.").fill("LAMPE-AURORE")
    expect(variants.locator(".sku-check")).to_have_text("Cette référence est libre.")
    variants.get_by_label("Prix", exact=True).fill("89,00")
    variants.get_by_role("button", name="Ajouter la déclinaison").click()
    expect(variants.locator(".flash")).to_have_text("La déclinaison a été ajoutée.")
    expect(variants.locator("tbody tr")).to_have_count(1)
    expect(variants.locator("tbody td.num").first).to_have_text("89,00\u00a0€")

    # An image, described in both languages.
    upload = page.locator("#image-upload-form")
    upload.get_by_label("Image", exact=True).set_input_files(photo(tmp_path))
    upload.get_by_label("Texte alternatif (français)").fill("Lampe en laiton allumée")
    upload.get_by_label("Texte alternatif (anglais)").fill("Brass lamp, lit")
    upload.get_by_role("button", name="Envoyer l’image").click()
    expect(page.locator("#images .flash")).to_have_text("L’image a été ajoutée.")
    expect(page.locator("#images .image-item")).to_have_count(1)

    # Publish.
    page.get_by_role("button", name="Publier", exact=True).click()
    expect(page.locator(".flash")).to_have_text("Le produit est publié.")
    expect(page.locator("#product-status")).to_have_text("Publié")
    assert problems == []

    with app.app_context():
        product = db.session.scalars(db.select(Product)).one()
        slugs = {code: t.slug for code, t in product.translations.items()}
        image_id = db.session.scalars(db.select(ProductImage.id)).one()
        wait_for_renditions(image_id)
    assert slugs == {"fr": "lampe-aurore-en-laiton", "en": "aurora-brass-lamp"}

    # Shoppers see it in both languages, with the picture's renditions.
    page.goto(live.url + "/fr/produits/lampe-aurore-en-laiton")
    expect(page.get_by_role("heading", level=1)).to_have_text("Lampe « Aurore » en laiton")
    expect(page.locator("#buybox .price-now")).to_have_text("89,00\u00a0€")
    expect(page.get_by_alt_text("Lampe en laiton allumée").first).to_be_visible()
    page.get_by_role("navigation", name="Langue").get_by_role("link", name="English").click()
    expect(page).to_have_url(live.url + "/en/products/aurora-brass-lamp")
    expect(page.get_by_role("heading", level=1)).to_have_text("Aurora brass lamp")
    expect(page.locator("picture source[type='image/webp']").first).to_have_attribute(
        "srcset", re.compile(r"-320\.webp 320w")
    )
    page.goto(live.url + "/fr/categories/luminaires")
    expect(page.locator("#results .card-title")).to_have_text(["Lampe « Aurore » en laiton"])

    # In the sitemap, in both languages; and the SEO check passes.
    client = app.test_client()
    urls = sitemap_urls(client)
    assert "http://127.0.0.1:5000/fr/produits/lampe-aurore-en-laiton" in urls
    assert "http://127.0.0.1:5000/en/products/aurora-brass-lamp" in urls
    result = app.test_cli_runner().invoke(args=["shop", "seo-check"])
    assert result.exit_code == 0, result.stdout
    assert result.stdout.splitlines()[-1] == "seo-check: no problems"


def test_the_product_list_filters_as_you_type_and_works_without_javascript(
    app, live, manager_page: Page, browser: Browser
):
    with app.app_context():
        for title_fr, title_en in (("Lampe de chevet", "Bedside lamp"), ("Tabouret", "Stool")):
            catalogue_factory.product({"fr": Text(title_fr), "en": Text(title_en)})
    page = manager_page
    problems = watch_console(page)
    page.goto(live.url + "/admin/products")
    expect(page.locator("#product-count")).to_have_text("2 produits")
    page.evaluate("window.__noReload = true")

    page.get_by_label("Titre, adresse ou référence").fill("lampe")

    expect(page.locator("#product-count")).to_have_text("1 produit")
    expect(page).to_have_url(re.compile(r"q=lampe"))
    assert page.evaluate("window.__noReload") is True
    assert problems == []

    cookies = page.context.cookies()
    plain = browser.new_context(java_script_enabled=False, user_agent=USER_AGENT)
    plain.add_cookies(cookies)
    try:
        nojs = plain.new_page()
        nojs.goto(live.url + "/admin/products")
        nojs.get_by_label("Titre, adresse ou référence").fill("tabouret")
        nojs.get_by_role("button", name="Filtrer").click()
        expect(nojs).to_have_url(re.compile(r"q=tabouret"))
        expect(nojs.locator("#product-count")).to_have_text("1 produit")
        expect(nojs.locator("#product-results")).to_contain_text("Tabouret")
    finally:
        plain.close()
