"""Back office: the product list (search as you type, filters, bulk actions), creating and
editing a product in French and English, publishing, and the search-result preview."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, request, url_for
from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from shop.accounts.permissions import Permission
from shop.catalogue import admin_queries as staff_queries
from shop.catalogue import bulk
from shop.catalogue import services as catalogue
from shop.catalogue.errors import CatalogueError
from shop.catalogue.models import Product, ProductStatus
from shop.config import LOCALES
from shop.extensions import db
from shop.paging import page_number
from shop.web.admin import admin_route
from shop.web.admin.auditing import audited
from shop.web.admin.catalogue.forms import (
    KIND_LABELS,
    SORT_LABELS,
    STATUS_LABELS,
    STOCK_LABELS,
    BulkForm,
    ProductForm,
    ProductTextForm,
    StatusForm,
    identifier,
    product_form_data,
)
from shop.web.admin.catalogue.support import (
    apply_errors,
    created,
    or_404,
    product_page,
    refusals,
    seo_preview,
    staff_lang,
    submitted_status,
)
from shop.web.htmx import redirect_to, render
from shop.web.security import form_view

STATUS_ACTIONS = {
    ProductStatus.ACTIVE: "product.publish",
    ProductStatus.ARCHIVED: "product.archive",
    ProductStatus.DRAFT: "product.unpublish",
}


# -- list --------------------------------------------------------------------------------


def _filters(args: Any) -> staff_queries.ProductFilters:
    return staff_queries.ProductFilters(
        q=args.get("q", "")[:100],
        status=args.get("status", "") if args.get("status") in ProductStatus.ALL else "",
        category_id=identifier(args.get("category")) or None,
        tag_id=identifier(args.get("tag")) or None,
        kind=args.get("kind", "") if args.get("kind") in KIND_LABELS else "",
        stock=args.get("stock", "") if args.get("stock") in STOCK_LABELS else "",
        sort=args.get("sort", "") if args.get("sort") in SORT_LABELS else "updated",
        page=page_number(args.get("page")),
    )


def _query(filters: staff_queries.ProductFilters) -> dict[str, Any]:
    """The list's URL arguments, without the empty ones."""
    values = {
        "q": filters.q,
        "status": filters.status,
        "category": filters.category_id,
        "tag": filters.tag_id,
        "kind": filters.kind,
        "stock": filters.stock,
        "sort": filters.sort if filters.sort != "updated" else None,
    }
    return {key: value for key, value in values.items() if value}


def _list_page(form: BulkForm | None = None, *, status: int = 200) -> Response:
    lang = staff_lang()
    filters = _filters(request.args)
    listing = staff_queries.product_page(filters, lang)
    bulk = form or BulkForm(formdata=None, locale=lang)
    query = _query(filters)
    return render(
        "admin/catalogue/products.html",
        "admin/catalogue/_product_results.html",
        status=status,
        listing=listing,
        filters=filters,
        query=query,
        here=url_for("admin.products", **query, page=listing.page if listing.page > 1 else None),
        categories=staff_queries.category_choices(lang),
        tags=[(int(choice.value), choice.label) for choice in bulk.tag_id.choices[1:]],
        bulk=bulk,
        ticked={i for i in (bulk.product_ids.data or []) if i},
        status_labels=STATUS_LABELS,
        kind_labels=KIND_LABELS,
        stock_labels=STOCK_LABELS,
        sort_labels=SORT_LABELS,
        format_date=format_date,
    )


@admin_route("/products", Permission.CATALOGUE_READ)
def products() -> Response:
    return _list_page()


def _back_to_list() -> str:
    back = request.form.get("next", "")
    return back if back.startswith("/admin/products") else url_for("admin.products")


@admin_route("/products/bulk", Permission.CATALOGUE_WRITE, methods=("POST",))
@form_view
def products_bulk() -> Response:
    """Publish, archive or tag the ticked products; publishing skips (and names) those
    without their French text or a variant."""
    lang = staff_lang()
    form = BulkForm(locale=lang)
    if not form.validate_on_submit():
        return _list_page(form, status=submitted_status(form))
    ids = sorted({i for i in form.product_ids.data if i})
    action = form.action.data
    before = bulk.snapshot(ids)
    try:
        with audited(
            f"product.bulk_{action}",
            "product",
            "",
            before=before,
            after=lambda: bulk.snapshot(ids),
        ):
            if action == "publish":
                result = bulk.publish(ids, lang)
            elif action == "archive":
                result = bulk.archive(ids)
            else:
                result = bulk.add_tag(ids, form.tag_id.data)
    except bulk.NothingPublished as error:
        form.form_errors.append(_not_published(error.refused))
        return _list_page(form, status=422)
    except CatalogueError as error:
        apply_errors(form, error)
        return _list_page(form, status=422)
    done = len(result.done)
    messages = {
        "publish": ngettext("%(num)d product published.", "%(num)d products published.", done),
        "archive": ngettext("%(num)d product archived.", "%(num)d products archived.", done),
        "add_tag": ngettext("%(num)d product tagged.", "%(num)d products tagged.", done),
    }
    flash(messages[action], "success")
    if result.refused:
        flash(_not_published(result.refused), "error")
    return redirect_to(_back_to_list())


def _not_published(refused: list[bulk.Unpublishable]) -> str:
    names = ", ".join(
        _(
            "“%(title)s” (missing: %(missing)s)",
            title=item.title,
            missing=", ".join(str(problem.missing) for problem in item.problems),
        )
        for item in refused
    )
    return ngettext(
        "Not published: %(names)s.", "Not published: %(names)s.", len(refused), names=names
    )


# -- create and edit ---------------------------------------------------------------------


@admin_route("/products/new", Permission.CATALOGUE_WRITE, methods=("GET", "POST"))
@form_view
def products_new() -> Response:
    lang = staff_lang()
    form = ProductForm(locale=lang)
    if form.validate_on_submit():
        try:
            with audited("product.create", "product") as entry:
                product = catalogue.save_product(
                    None, form.product_input(), created=created(entry, catalogue.product_snapshot)
                )
        except CatalogueError as error:
            apply_errors(form, error)
        else:
            flash(_("The product has been created."), "success")
            return redirect_to(url_for("admin.products_edit", product_id=product.id))
    return product_page(None, form=form, status=submitted_status(form, 422))


@admin_route("/products/<int:product_id>", Permission.CATALOGUE_READ)
def products_edit(product_id: int) -> Response:
    product = or_404(catalogue.load_product, product_id)
    form = ProductForm(formdata=None, data=product_form_data(product), locale=staff_lang())
    return product_page(product, form=form)


@admin_route(
    "/products/<int:product_id>",
    Permission.CATALOGUE_WRITE,
    methods=("POST",),
    endpoint="products_update",
)
@form_view
def products_update(product_id: int) -> Response:
    product = or_404(catalogue.load_product, product_id)
    form = ProductForm(locale=staff_lang())
    if form.validate_on_submit():
        before = catalogue.product_snapshot(product)
        try:
            with audited(
                "product.update",
                "product",
                product.id,
                before=before,
                after=lambda: catalogue.product_snapshot(product),
            ):
                catalogue.save_product(product.id, form.product_input())
        except CatalogueError as error:
            apply_errors(form, error)
        else:
            flash(_("The product has been saved."), "success")
            return redirect_to(url_for("admin.products_edit", product_id=product.id))
    return product_page(product, form=form, status=submitted_status(form, 422))


@admin_route("/products/<int:product_id>/status", Permission.CATALOGUE_WRITE, methods=("POST",))
@form_view
def products_status(product_id: int) -> Response:
    """Publish, archive or back to draft, from the buttons of the edit page."""
    product = or_404(catalogue.load_product, product_id)
    action_form = StatusForm()
    problems: list[str] = []
    if action_form.validate_on_submit():
        wanted = action_form.status.data
        before = {"status": product.status}
        try:
            with audited(
                STATUS_ACTIONS[wanted],
                "product",
                product.id,
                before=before,
                after=lambda: {"status": product.status},
            ):
                catalogue.set_status(product.id, wanted)
        except CatalogueError as error:
            problems = [str(refusal.message) for refusal in refusals(error)]
        else:
            flash(
                {
                    ProductStatus.ACTIVE: _("The product is published."),
                    ProductStatus.ARCHIVED: _("The product is archived."),
                    ProductStatus.DRAFT: _("The product is back to draft."),
                }[wanted],
                "success",
            )
            return redirect_to(url_for("admin.products_edit", product_id=product.id))
    else:
        problems = [_("This action could not be understood. Please try again from the page.")]
    product = or_404(catalogue.load_product, product_id)
    form = ProductForm(formdata=None, data=product_form_data(product), locale=staff_lang())
    status = submitted_status(action_form, 422 if action_form.is_submitted() else 400)
    return product_page(product, form=form, status=status, problems=problems)


# -- live helpers ------------------------------------------------------------------------


@admin_route("/products/seo-preview", Permission.CATALOGUE_READ, methods=("POST",))
def products_preview() -> Response:
    """The search-result preview and completeness of one language, from the form as typed."""
    locale = request.form.get("locale", "")
    if locale not in LOCALES:
        abort(400)
    text_form = ProductTextForm(request.form, prefix=f"{locale}-")
    values = text_form.values()
    product_id = identifier(request.form.get("product_id"))
    product = db.session.get(Product, product_id) if product_id else None
    current = product.translations.get(locale) if product else None
    alts = staff_queries.image_alts(product.images if product else [])
    return render(
        "admin/catalogue/_seo_preview.html",
        preview=seo_preview(
            locale,
            values,
            current.slug if current else None,
            noindex=bool(request.form.get("noindex")),
        ),
        check=staff_queries.completeness({locale: values}, alts)[locale],
        oob=True,
    )


@admin_route("/products/sku-check", Permission.CATALOGUE_READ)
def products_sku_check() -> Response:
    """Inline answer while a SKU is typed: free, or which product already uses it."""
    sku = request.args.get("sku", "").strip()[:64]
    owner = catalogue.sku_owner(sku, except_variant_id=identifier(request.args.get("variant_id")))
    return render(
        "admin/catalogue/_sku_check.html",
        sku=sku,
        owner=owner,
        status=409 if owner else 200,
    )
