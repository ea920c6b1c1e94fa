"""What the catalogue admin views share: the staff language, refusals turned into form errors,
audit entries for rows that get their id inside the service, and the product edit page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response
from wtforms import FormField

from shop.audit.services import Entry
from shop.catalogue import admin_queries as staff_queries
from shop.catalogue import errors, seo
from shop.catalogue import services as catalogue
from shop.catalogue.addresses import PATHS
from shop.catalogue.errors import CatalogueError
from shop.catalogue.models import Product, ProductStatus
from shop.catalogue.text import slugify
from shop.config import LOCALES
from shop.web.admin.catalogue.forms import (
    LANGUAGES,
    STATUS_LABELS,
    ActionForm,
    ImageAltForm,
    ImageUploadForm,
    MoveForm,
    ProductForm,
    StatusForm,
    VariantForm,
)
from shop.web.forms import form_status
from shop.web.htmx import render, wants_fragment
from shop.web.storefront import meta

TITLE_LIMIT = 60  # characters a search result shows of a title, roughly
DESCRIPTION_LIMIT = 160


def staff_lang() -> str:
    return str(get_locale() or "fr")


def refusals(error: CatalogueError) -> list[CatalogueError]:
    return list(getattr(error, "errors", None) or [error])


def apply_errors(form: FlaskForm, error: CatalogueError) -> None:
    """Each refusal on its field ("fr-title" is the French title), else on the whole form."""
    for refusal in refusals(error):
        target = _field(form, getattr(refusal, "field", None))
        message = str(refusal.message)
        if target is None:
            if message not in form.form_errors:
                form.form_errors.append(message)
        elif message not in target.errors:
            target.errors = [*target.errors, message]


def _field(form: FlaskForm, name: str | None) -> Any:
    if not name:
        return None
    if name in form:
        field = form[name]
        return None if isinstance(field, FormField) else field
    prefix, _sep, rest = name.partition("-")
    if prefix in form and isinstance(form[prefix], FormField) and rest in form[prefix].form:
        return form[prefix].form[rest]
    return None


def created(entry: Entry, snapshot: Callable[[Any], dict[str, Any]]) -> Callable[[Any], None]:
    """The service's ``created`` callback: the audit entry names the new row and records it as
    it is at the commit."""

    def hook(row: Any) -> None:
        entry.entity_id = str(row.id)
        entry.after = lambda: snapshot(row)

    return hook


def or_404(load: Callable[[int], Any], entity_id: int) -> Any:
    try:
        return load(entity_id)
    except errors.NotFound as error:
        raise NotFound() from error


def submitted_status(form: FlaskForm, default: int = 422) -> int:
    """400 for a missing or stale CSRF token (said on the form), else ``default``."""
    status = form_status(form)
    return default if status == 422 else status


# -- search result preview and completeness ----------------------------------------------


NAME_FIELD = {"product": "title", "category": "name", "tag": "name"}


def seo_preview(
    locale: str,
    values: dict[str, str],
    current_slug: str | None,
    *,
    kind: str = "product",
    noindex: bool = False,
) -> dict[str, Any]:
    """The result a search engine would show, built as the storefront builds the page: the
    same title and description (storefront ``meta.describe``), the canonical address when
    the merchant points it elsewhere, and whether the page is kept out of search engines."""
    name = (values.get(NAME_FIELD[kind]) or "").strip()
    base_url = current_app.config["PUBLIC_BASE_URL"]
    with force_locale(locale):
        title_text, description = meta.describe(
            kind,
            name,
            values.get("description") or "",
            values.get("meta_title") or "",
            values.get("meta_description") or "",
        )
        typed = name or (values.get("meta_title") or "").strip()
        title = meta.page_title(title_text) if typed else ""
    wanted = (values.get("slug") or "").strip()
    slug = slugify(wanted) if wanted else current_slug
    if not slug and name:
        slug = slugify(name)
    url = base_url + PATHS[kind][locale] + (slug or "…")
    override = (values.get("canonical_url") or "").strip()
    try:
        canonical = seo.canonical_url(seo.clean_canonical(override), url, base_url)
    except seo.BadCanonical:
        canonical = url
    return {
        "locale": locale,
        "title": title,
        "url": url,
        "canonical": canonical if canonical != url else None,
        "noindex": noindex,
        "description": description,
        "title_length": len(title),
        "description_length": len(description),
        "title_limit": TITLE_LIMIT,
        "description_limit": DESCRIPTION_LIMIT,
    }


def current_slugs(product: Product | None) -> dict[str, str | None]:
    return {
        code: (
            product.translations[code].slug if product and code in product.translations else None
        )
        for code in LOCALES
    }


# -- the product page --------------------------------------------------------------------


def product_page(
    product: Product | None,
    *,
    form: ProductForm,
    status: int = 200,
    fragment: str | None = None,
    variant_form: VariantForm | None = None,
    image_form: ImageUploadForm | None = None,
    alt_forms: dict[int, ImageAltForm] | None = None,
    problems: list[str] | None = None,
    notice: str | None = None,
) -> Response:
    """New or edit page, or one of its sections for HTMX (``fragment``)."""
    values = {code: form[code].form.values() for code in LOCALES}
    product_images = list(product.images) if product else []
    slugs = current_slugs(product)
    context: dict[str, Any] = {
        "product": product,
        "form": form,
        "completeness": staff_queries.completeness(
            values, staff_queries.image_alts(product_images)
        ),
        "previews": {
            code: seo_preview(code, values[code], slugs[code], noindex=bool(form.noindex.data))
            for code in LOCALES
        },
        "og_images": product_images,
        "problems": problems or [],
        "notice": notice,
        "in_fragment": bool(fragment) and wants_fragment(),
        "display_title": catalogue.display_title(product, staff_lang()) if product else "",
        "status_labels": STATUS_LABELS,
        "status_buttons": [
            (ProductStatus.ACTIVE, _("Publish")),
            (ProductStatus.ARCHIVED, _("Archive")),
            (ProductStatus.DRAFT, _("Back to draft")),
        ],
        "language_names": LANGUAGES,
    }
    if product is not None:
        alt_forms = alt_forms or {}
        context.update(
            variant_form=variant_form or VariantForm(formdata=None),
            image_form=image_form or ImageUploadForm(formdata=None),
            alt_forms={
                image.id: alt_forms.get(image.id)
                or ImageAltForm(
                    formdata=None,
                    prefix=f"img{image.id}",
                    data={"alt_fr": image.alt_fr, "alt_en": image.alt_en},
                )
                for image in product_images
            },
            images=product_images,
            stock=staff_queries.stock_by_variant(v.id for v in product.variants),
            action_form=ActionForm(formdata=None),
            move_form=MoveForm(formdata=None),
            status_form=StatusForm(formdata=None),
        )
    return render("admin/catalogue/product.html", fragment, status=status, **context)
