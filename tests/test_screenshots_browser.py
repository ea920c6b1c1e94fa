"""Screenshots of every storefront page type on a 390 × 844 phone and a 1280 × 800 laptop,
compared with the reference images in ``tests/screenshots/`` (``tests/screenshots.py``), so
that a broken layout fails the suite.

Each shot is the top of the full page, at most two screens tall (the header, the hero or the
title, the first rows of a grid, the buy box, the form), whole when the page is shorter, so
a footer that moves up or a grid that wraps differently changes the image or its size. The
pages are the same on every run: the factory's catalogue with pictures drawn from each
product's slug (``shop.demo.draw_picture``), no date or random value shown, animations and
transitions off, the caret hidden, fonts and every image (lazy ones made eager) loaded
before the shot.

Refresh the references after an intended change of the look:
``UPDATE_SCREENSHOTS=1 .venv/bin/pytest tests/test_screenshots_browser.py``.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator

import pytest
from flask import Flask
from PIL import Image, ImageDraw
from playwright.sync_api import Browser, BrowserContext, Page, expect

from shop.catalogue import images
from shop.catalogue import services as catalogue
from shop.checkout.defaults import load_defaults
from shop.demo import draw_picture
from shop.extensions import db
from tests import catalogue_factory, screenshots
from tests.conftest import LiveServer, _empty_tables, fresh_state

VIEWPORTS = {
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 1,
        "is_mobile": True,
        "has_touch": True,
    },
    "laptop": {"viewport": {"width": 1280, "height": 800}, "device_scale_factor": 1},
}
SCREENS = 2  # the shot's height at most, in screens
PAGES = {
    "home-fr": "/fr/",
    "home-en": "/en/",
    "category-fr": "/fr/categories/mobilier",
    "product-fr": "/fr/produits/chaise-en-chene-n-0",
    "product-en": "/en/products/oak-chair-no-0",
    "search-fr": "/fr/recherche?q=table",
    "cart-fr": "/fr/panier",
    "checkout-fr": "/fr/commande",
}
SHOTS = [
    (f"{name}-{viewport}", path, viewport) for viewport in VIEWPORTS for name, path in PAGES.items()
]
# Fonts ready, lazy images asked for now, every image decoded; the broken ones returned.
# Parts laid out only near the screen (``content-visibility: auto``: cards below the first
# rows, the footer) are laid out now, as a shopper scrolling down sees them.
SETTLE = """async () => {
  for (const el of document.querySelectorAll("*")) {
    if (getComputedStyle(el).contentVisibility === "auto") el.style.contentVisibility = "visible";
  }
  await document.fonts.ready;
  const pictures = [...document.images];
  for (const img of pictures) img.loading = "eager";
  await Promise.all(pictures.map((img) => img.decode().catch(() => null)));
  return pictures.filter((img) => !img.complete || img.naturalWidth === 0)
    .map((img) => img.currentSrc || img.src);
}"""


@pytest.fixture(scope="module")
def shop(_session_app: Flask, live_server: LiveServer) -> Iterator[LiveServer]:
    """One catalogue for the module (the ``app`` fixture would empty it before each shot): the
    factory's 12 products, each with its own drawn picture (seeded by its slug, as the demo
    does), three on product 0."""
    fresh_state(_session_app)
    with _session_app.app_context():
        ids = catalogue_factory.build(12)
        load_defaults()
        db.session.commit()
        for index, product_id in enumerate(ids["products"]):
            slug = catalogue.load_product(product_id).translations["fr"].slug
            family = "chaises/chene" if index % 2 == 0 else "tables/chene"
            keys = [("product", family, zlib.crc32(slug.encode()))]
            if index == 0:
                keys += [("material", "chene", 0), ("room", "mobilier", 0)]
            for key in keys:
                image = images.add_product_image(
                    product_id, io.BytesIO(_picture(key)), alt_fr="", alt_en=""
                )
                images.render_renditions(image.id)
    yield live_server
    _empty_tables(_session_app)


def _picture(key: tuple[str, str, int]) -> bytes:
    """The demo's drawing for ``key`` at half size, 800 × 600: renditions of 320 and 640 px
    only, a third of the encoding time of the full size."""
    with Image.open(io.BytesIO(draw_picture(key))) as drawn:
        smaller = drawn.resize((800, 600), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    smaller.save(out, "JPEG", quality=85)
    return out.getvalue()


@pytest.fixture(scope="module")
def tabs(browser: Browser, shop: LiveServer) -> Iterator:
    """``tabs(viewport)``: the one page of that viewport's context, whose cart holds a
    chair in its large size and two tables."""
    opened: dict[str, Page] = {}

    def tab(viewport: str) -> Page:
        if viewport not in opened:
            context = browser.new_context(
                **VIEWPORTS[viewport],
                locale="fr-FR",
                timezone_id="Europe/Paris",
                reduced_motion="reduce",
            )
            _fill_cart(context, shop.url)
            opened[viewport] = context.new_page()
        return opened[viewport]

    yield tab
    for page in opened.values():
        page.context.close()


def _fill_cart(context: BrowserContext, url: str) -> None:
    page = context.new_page()  # its own page: the pointer it leaves hovers nothing shot
    try:
        page.goto(url + "/fr/produits/chaise-en-chene-n-0")
        page.get_by_label("Grand").check()
        expect(page.locator("#buybox .sku span")).to_have_text("SKU-0-1")
        page.get_by_role("button", name="Ajouter au panier").click()
        expect(page.locator("#cart-badge")).to_contain_text("1")
        page.goto(url + "/fr/produits/table-en-chene-n-3")
        page.get_by_label("Quantité").fill("2")
        page.get_by_role("button", name="Ajouter au panier").click()
        expect(page.locator("#cart-badge")).to_contain_text("3")
    finally:
        page.close()


def shoot(page: Page) -> bytes:
    """The top of the full page, at most ``SCREENS`` screens tall, once it has settled."""
    broken = page.evaluate(SETTLE)
    assert broken == [], f"images not loaded on {page.url}: {broken}"
    viewport = page.viewport_size
    assert viewport is not None
    height = page.evaluate("document.documentElement.scrollHeight")
    clip = {
        "x": 0,
        "y": 0,
        "width": viewport["width"],
        "height": min(height, SCREENS * viewport["height"]),
    }
    return page.screenshot(
        full_page=True, clip=clip, animations="disabled", caret="hide", scale="css"
    )


@pytest.mark.browser
@pytest.mark.parametrize(("name", "path", "viewport"), SHOTS, ids=[s[0] for s in SHOTS])
def test_page_looks_as_its_reference(tabs, shop: LiveServer, name: str, path: str, viewport: str):
    page = tabs(viewport)
    response = page.goto(shop.url + path)
    assert response is not None and response.status == 200, (path, response)
    screenshots.check(name, shoot(page))


# -- the comparison itself, without a browser --------------------------------------------


def _page_like(size: tuple[int, int] = (200, 300)) -> Image.Image:
    """A white page with a dark title bar, a coloured card and some text-like strokes."""
    image = Image.new("RGB", size, "#ffffff")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, size[0], 30), fill="#1f2d3a")
    draw.rectangle((20, 60, 120, 160), fill="#b8895a")
    for y in range(180, 280, 12):
        draw.line((20, y, 180, y), fill="#333333", width=2)
    return image


def test_identical_images_match():
    result = screenshots.compare(_page_like(), _page_like())
    assert result.matches() and result.differing == 0


def test_a_shifted_block_fails():
    moved = _page_like()
    draw = ImageDraw.Draw(moved)
    draw.rectangle((20, 60, 120, 160), fill="#ffffff")
    draw.rectangle((28, 60, 128, 160), fill="#b8895a")  # the card 8 px to the right
    result = screenshots.compare(moved, _page_like())
    assert not result.matches()
    assert result.differing == 2 * 8 * 101  # the strip it left and the strip it took
    assert "pixels differ" in result.describe()
    assert result.diff is not None and result.diff.getpixel((22, 100)) == (255, 0, 0)
    assert result.diff.getpixel((60, 100)) != (255, 0, 0)  # unchanged, only faded


def test_a_changed_colour_beyond_the_threshold_fails():
    recoloured = _page_like()
    ImageDraw.Draw(recoloured).rectangle((20, 60, 120, 160), fill="#5a89b8")
    assert not screenshots.compare(recoloured, _page_like()).matches()


def test_a_colour_change_within_the_threshold_passes():
    tinted = _page_like()
    ImageDraw.Draw(tinted).rectangle((20, 60, 120, 160), fill="#bb8c5d")  # +3 on each channel
    result = screenshots.compare(tinted, _page_like())
    assert result.matches() and result.differing == 0


def test_antialiasing_level_noise_passes():
    noisy = _page_like()
    # every pixel around the strokes a few levels off (a font rasteriser's or a JPEG
    # decoder's differences), and a few dozen pixels flipped outright: 0.1 % of the 60 000
    for y in range(176, 284):
        for x in range(16, 186):
            r, g, b = noisy.getpixel((x, y))
            step = 12 if (x + y) % 2 else -12
            noisy.putpixel((x, y), tuple(max(0, min(255, c + step)) for c in (r, g, b)))
    for n in range(60):
        noisy.putpixel((150 + n % 30, 60 + n // 30), (0, 0, 0))
    result = screenshots.compare(noisy, _page_like())
    assert result.differing > 0
    assert result.matches(), result.describe()


def test_more_noise_than_allowed_fails():
    noisy = _page_like()
    for n in range(200):  # 0.33 %
        noisy.putpixel((150 + n % 40, 60 + n // 40), (0, 0, 0))
    assert not screenshots.compare(noisy, _page_like()).matches()


def test_a_size_change_fails_with_both_sizes():
    result = screenshots.compare(_page_like((200, 320)), _page_like())
    assert not result.matches()
    assert result.describe() == "size changed: expected 200×300 px, got 200×320 px"


def test_check_fails_without_a_reference_and_writes_one_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.setattr(screenshots, "REFERENCES", tmp_path / "references")
    monkeypatch.setattr(screenshots, "RESULTS", tmp_path / "results")
    monkeypatch.delenv(screenshots.UPDATE_VARIABLE, raising=False)
    out = io.BytesIO()
    _page_like().save(out, "PNG")
    png = out.getvalue()

    with pytest.raises(pytest.fail.Exception, match="no reference image"):
        screenshots.check("page", png)
    assert not (tmp_path / "references" / "page.png").exists()
    assert (tmp_path / "results" / "page" / "actual.png").exists()

    monkeypatch.setenv(screenshots.UPDATE_VARIABLE, "1")
    with pytest.raises(pytest.skip.Exception, match="wrote the missing reference"):
        screenshots.check("page", png)
    assert (tmp_path / "references" / "page.png").exists()
    screenshots.check("page", png)  # matches: nothing rewritten, nothing skipped

    monkeypatch.delenv(screenshots.UPDATE_VARIABLE)
    other = io.BytesIO()
    _page_like((200, 320)).save(other, "PNG")
    with pytest.raises(pytest.fail.Exception, match="size changed") as failure:
        screenshots.check("page", other.getvalue())
    assert "results/page" in str(failure.value)
    written = sorted(p.name for p in (tmp_path / "results" / "page").iterdir())
    assert written == ["actual.png", "expected.png"]  # no diff image across sizes
