"""The home page sells: a hero whose texts the admin edits in both languages, category tiles
with pictures, featured products in stock only, and the search box once (in the header)."""

from __future__ import annotations

import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shop.audit.models import AuditLog
from shop.extensions import db
from tests import catalogue_factory
from tests.admin_support import admin_csrf, login_staff

HERO = {
    "hero_title_fr": "Des chaises pour durer",
    "hero_subtitle_fr": "Chêne, noyer et rotin.",
    "hero_button_fr": "Voir les chaises",
    "hero_link_fr": "/fr/categories/chaises",
    "hero_title_en": "Chairs made to last",
    "hero_subtitle_en": "Oak, walnut and rattan.",
    "hero_button_en": "See the chairs",
    "hero_link_en": "/en/categories/chairs",
}


@pytest.fixture
def admin(app: Flask) -> FlaskClient:
    client = app.test_client()
    login_staff(client, app, "admin")
    return client


@pytest.fixture
def catalogue(app):
    with app.app_context():
        return catalogue_factory.build(30)


def test_the_home_page_has_a_default_hero_and_one_search_box(client, catalogue):
    html = client.get("/fr/").get_data(as_text=True)
    assert "Bienvenue chez Comptoir" in html
    assert re.search(r'<a class="button hero-cta" href="/fr/recherche">', html)
    assert html.count('type="search"') == 1


def test_the_admin_edits_the_hero_in_both_languages(app, admin, client, catalogue):
    assert admin.get("/admin/settings/home").status_code == 200
    response = admin.post("/admin/settings/home", data={**HERO, "csrf_token": admin_csrf(admin)})
    assert response.status_code == 303
    fr = client.get("/fr/").get_data(as_text=True)
    en = client.get("/en/").get_data(as_text=True)
    assert '<h1 id="hero-title">Des chaises pour durer</h1>' in fr
    assert 'href="/fr/categories/chaises">Voir les chaises</a>' in fr
    assert "Chêne, noyer et rotin." in fr
    assert 'href="/en/categories/chairs">See the chairs</a>' in en
    with app.app_context():
        [entry] = db.session.scalars(
            db.select(AuditLog).where(AuditLog.action == "settings.update")
        ).all()
        assert entry.entity_id == "home"
    # Emptied: back to the built-in wording.
    empty = dict.fromkeys(HERO, "")
    response = admin.post("/admin/settings/home", data={**empty, "csrf_token": admin_csrf(admin)})
    assert response.status_code == 303
    assert "Bienvenue chez Comptoir" in client.get("/fr/").get_data(as_text=True)


def test_a_bad_button_address_is_refused_with_the_form_kept(app, admin):
    data = {**HERO, "hero_link_fr": "javascript:alert(1)", "csrf_token": admin_csrf(admin)}
    response = admin.post("/admin/settings/home", data=data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "commençant par /" in html
    assert 'value="Des chaises pour durer"' in html
    protocol_relative = {**data, "hero_link_fr": "//evil.example.com/"}
    assert admin.post("/admin/settings/home", data=protocol_relative).status_code == 422


def test_category_tiles_have_pictures_and_featured_products_are_in_stock(app, client):
    from PIL import Image

    from shop.catalogue import images
    from shop.catalogue.models import ProductStatus
    from shop.catalogue.services import VariantInput

    with app.app_context():
        made = catalogue_factory.build(30)
        sold_out = catalogue_factory.product(
            {
                "fr": catalogue_factory.Text(title="Chaise épuisée", description="<p>Épuisée.</p>"),
                "en": catalogue_factory.Text(
                    title="Sold-out chair", description="<p>Sold out.</p>"
                ),
            },
            status=ProductStatus.ACTIVE,
            variants=[VariantInput(sku="SOLD-OUT", price=5000)],
            category_id=made["chairs"],
            featured=True,
        )
        picture = io.BytesIO()
        Image.new("RGB", (800, 600), "#b07d4f").save(picture, "JPEG")
        picture.seek(0)
        images.add_product_image(made["products"][2], picture, alt_fr="Chaise", alt_en="Chair")
        assert sold_out.id
    html = client.get("/fr/").get_data(as_text=True)
    assert "Chaise épuisée" not in html
    assert "Chaise en chêne n°\u00a02" in html  # featured and in stock
    tiles = html.split('class="category-tiles with-pictures"', 1)[1].split("</ul>", 1)[0]
    furniture, kitchen = tiles.split("</li>")[:2]
    assert 'href="/fr/categories/mobilier"' in furniture and "<img " in furniture
    assert 'alt=""' in furniture  # the tile's name says it all
    assert "tile-blank" in kitchen  # no product, no picture
    assert html.count('fetchpriority="high"') <= 1
