"""Back office: a product's variants (prices through the price history) and images (checked
by content, reordered, described in both languages). Each section of the edit page swaps
itself under HTMX; without JavaScript the forms post and come back to the page."""

from __future__ import annotations

from flask import flash, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import inspect
from werkzeug.wrappers import Response

from shop.accounts.permissions import Permission
from shop.catalogue import images
from shop.catalogue import services as catalogue
from shop.catalogue.errors import CatalogueError
from shop.catalogue.images import ImageRejected, ImageTooLarge
from shop.catalogue.models import Product, ProductVariant
from shop.extensions import htmx
from shop.web.admin import admin_route
from shop.web.admin.auditing import audited
from shop.web.admin.catalogue.forms import (
    ActionForm,
    ImageAltForm,
    ImageUploadForm,
    MoveForm,
    ProductForm,
    VariantForm,
    product_form_data,
    variant_form_data,
)
from shop.web.admin.catalogue.support import (
    apply_errors,
    created,
    or_404,
    product_page,
    refusals,
    staff_lang,
    submitted_status,
)
from shop.web.htmx import redirect_to, render
from shop.web.security import form_view

VARIANTS = "admin/catalogue/_variants.html"
IMAGES = "admin/catalogue/_images.html"
NOT_UNDERSTOOD = _l("This action could not be understood. Please try again from the page.")


def _section(
    product_id: int,
    fragment: str,
    *,
    status: int = 200,
    notice: str | None = None,
    problems: list[str] | None = None,
    **forms: object,
) -> Response:
    """The edit page (or, for HTMX, the section that changed) as it is now."""
    product = or_404(catalogue.load_product, product_id)
    form = ProductForm(formdata=None, data=product_form_data(product), locale=staff_lang())
    return product_page(
        product,
        form=form,
        status=status,
        fragment=fragment,
        notice=notice,
        problems=problems,
        **forms,  # type: ignore[arg-type]
    )


def _done(product_id: int, fragment: str, message: str, anchor: str) -> Response:
    """HTMX: the fresh section with the message in it; otherwise back to the page."""
    if htmx:
        return _section(product_id, fragment, notice=message)
    flash(message, "success")
    return redirect_to(url_for("admin.products_edit", product_id=product_id) + anchor)


# -- variants ----------------------------------------------------------------------------


@admin_route("/products/<int:product_id>/variants", Permission.CATALOGUE_WRITE, methods=("POST",))
@form_view
def products_variant_add(product_id: int) -> Response:
    product: Product = or_404(catalogue.load_product, product_id)
    form = VariantForm()
    if form.validate_on_submit():
        try:
            with audited("variant.create", "variant") as entry:
                catalogue.create_variant(
                    product.id,
                    form.variant_input(),
                    created=created(entry, catalogue.variant_snapshot),
                )
        except CatalogueError as error:
            apply_errors(form, error)
        else:
            return _done(product.id, VARIANTS, _("The variant has been added."), "#variants")
    return _section(product.id, VARIANTS, status=submitted_status(form), variant_form=form)


@admin_route("/products/variants/<int:variant_id>", Permission.CATALOGUE_READ)
def products_variant_edit(variant_id: int) -> Response:
    variant = or_404(catalogue.load_variant, variant_id)
    form = VariantForm(formdata=None, data=variant_form_data(variant))
    return _variant_page(variant, form)


def _variant_page(variant: ProductVariant, form: VariantForm, status: int = 200):
    product = variant.product
    return render(
        "admin/catalogue/variant.html",
        variant=variant,
        product=product,
        title=catalogue.display_title(product, staff_lang()),
        form=form,
        status=status,
    )


@admin_route(
    "/products/variants/<int:variant_id>",
    Permission.CATALOGUE_WRITE,
    methods=("POST",),
    endpoint="products_variant_update",
)
@form_view
def products_variant_update(variant_id: int) -> Response:
    """Edit a variant; a new price is recorded in the price history (30-day lowest price)."""
    variant = or_404(catalogue.load_variant, variant_id)
    form = VariantForm()
    if form.validate_on_submit():
        before = catalogue.variant_snapshot(variant)
        try:
            with audited(
                "variant.update",
                "variant",
                variant.id,
                before=before,
                after=lambda: catalogue.variant_snapshot(variant),
            ):
                catalogue.update_variant(variant.id, form.variant_input())
        except CatalogueError as error:
            apply_errors(form, error)
            variant = or_404(catalogue.load_variant, variant_id)
        else:
            flash(_("The variant has been saved."), "success")
            return redirect_to(
                url_for("admin.products_edit", product_id=variant.product_id) + "#variants"
            )
    return _variant_page(variant, form, submitted_status(form))


@admin_route(
    "/products/variants/<int:variant_id>/remove", Permission.CATALOGUE_WRITE, methods=("POST",)
)
@form_view
def products_variant_remove(variant_id: int) -> Response:
    """Delete, or deactivate when stock movements, holds or orders refer to it."""
    variant = or_404(catalogue.load_variant, variant_id)
    product_id = variant.product_id
    form = ActionForm()
    if not form.validate_on_submit():
        return _section(
            product_id, VARIANTS, status=submitted_status(form, 400), problems=[str(NOT_UNDERSTOOD)]
        )
    try:
        with audited(
            "variant.remove",
            "variant",
            variant.id,
            before=catalogue.variant_snapshot(variant),
            after=lambda: None if inspect(variant).deleted else catalogue.variant_snapshot(variant),
        ):
            deleted = catalogue.remove_variant(variant.id)
    except CatalogueError as error:
        problems = [str(refusal.message) for refusal in refusals(error)]
        return _section(product_id, VARIANTS, status=422, problems=problems)
    message = (
        _("The variant has been deleted.")
        if deleted
        else _("The variant has been deactivated: stock movements or orders refer to it.")
    )
    return _done(product_id, VARIANTS, message, "#variants")


# -- images ------------------------------------------------------------------------------


@admin_route("/products/<int:product_id>/images", Permission.CATALOGUE_WRITE, methods=("POST",))
@form_view
def products_image_upload(product_id: int) -> Response:
    product: Product = or_404(catalogue.load_product, product_id)
    form = ImageUploadForm()
    status = 422
    if form.validate_on_submit():
        try:
            with audited("image.upload", "image") as entry:
                images.add_product_image(
                    product.id,
                    form.image.data.stream,
                    alt_fr=form.alt_fr.data or "",
                    alt_en=form.alt_en.data or "",
                    created=created(entry, images.image_snapshot),
                )
        except ImageRejected as error:
            form.image.errors = [str(error.message)]
            status = 413 if isinstance(error, ImageTooLarge) else 422
        else:
            return _done(product.id, IMAGES, _("The image has been added."), "#images")
    return _section(product.id, IMAGES, status=submitted_status(form, status), image_form=form)


@admin_route("/products/images/<int:image_id>/move", Permission.CATALOGUE_WRITE, methods=("POST",))
@form_view
def products_image_move(image_id: int) -> Response:
    """One place earlier or later (the buttons post without JavaScript too)."""
    image = or_404(images.load_image, image_id)
    product_id = image.product_id
    form = MoveForm()
    if not form.validate_on_submit():
        return _section(
            product_id, IMAGES, status=submitted_status(form, 400), problems=[str(NOT_UNDERSTOOD)]
        )
    with audited(
        "image.move",
        "image",
        image.id,
        before={"position": image.position},
        after=lambda: {"position": image.position},
    ):
        images.move_image(image.id, -1 if form.direction.data == "up" else 1)
    return _done(product_id, IMAGES, _("The images have been reordered."), "#images")


@admin_route("/products/images/<int:image_id>", Permission.CATALOGUE_WRITE, methods=("POST",))
@form_view
def products_image_update(image_id: int) -> Response:
    image = or_404(images.load_image, image_id)
    product_id = image.product_id
    form = ImageAltForm(prefix=f"img{image.id}")
    if not form.validate_on_submit():
        return _section(
            product_id,
            IMAGES,
            status=submitted_status(form, 422),
            alt_forms={image.id: form},
            problems=[] if form.is_submitted() else [str(NOT_UNDERSTOOD)],
        )
    before = {"alt_fr": image.alt_fr, "alt_en": image.alt_en}
    with audited(
        "image.update",
        "image",
        image.id,
        before=before,
        after=lambda: {"alt_fr": image.alt_fr, "alt_en": image.alt_en},
    ):
        images.set_image_alt(image.id, alt_fr=form.alt_fr.data or "", alt_en=form.alt_en.data or "")
    return _done(product_id, IMAGES, _("The alternative texts have been saved."), "#images")


@admin_route(
    "/products/images/<int:image_id>/delete", Permission.CATALOGUE_WRITE, methods=("POST",)
)
@form_view
def products_image_delete(image_id: int) -> Response:
    image = or_404(images.load_image, image_id)
    product_id = image.product_id
    form = ActionForm()
    if not form.validate_on_submit():
        return _section(
            product_id, IMAGES, status=submitted_status(form, 400), problems=[str(NOT_UNDERSTOOD)]
        )
    with audited("image.delete", "image", image.id, before=images.image_snapshot(image)):
        images.delete_image(image.id)
    return _done(product_id, IMAGES, _("The image has been deleted."), "#images")
