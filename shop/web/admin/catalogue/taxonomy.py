"""Back office: the category tree and tags, named and addressed in both languages."""

from __future__ import annotations

from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from shop.accounts.permissions import Permission
from shop.catalogue import admin_queries as staff_queries
from shop.catalogue import taxonomy
from shop.catalogue.errors import CatalogueError
from shop.catalogue.models import Category, Tag
from shop.config import LOCALES
from shop.extensions import db
from shop.web.admin import admin_route
from shop.web.admin.auditing import audited
from shop.web.admin.catalogue.forms import (
    ActionForm,
    CategoryForm,
    CategoryTextForm,
    TagForm,
    TagTextForm,
    category_form_data,
    identifier,
    tag_form_data,
)
from shop.web.admin.catalogue.support import (
    apply_errors,
    created,
    or_404,
    refusals,
    seo_preview,
    staff_lang,
    submitted_status,
)
from shop.web.htmx import redirect_to, render
from shop.web.security import form_view

# -- categories --------------------------------------------------------------------------


@admin_route("/categories", Permission.CATALOGUE_READ)
def categories() -> Response:
    return _categories_page()


def _categories_page(problems: list[str] | None = None, status: int = 200) -> Response:
    lang = staff_lang()
    return render(
        "admin/catalogue/categories.html",
        rows=staff_queries.category_rows(lang),
        action_form=ActionForm(formdata=None),
        problems=problems or [],
        status=status,
    )


def _category_page(category: Category | None, form: CategoryForm, status: int = 200) -> Response:
    return render(
        "admin/catalogue/category.html",
        category=category,
        form=form,
        previews=_previews("category", category, form),
        og_images=staff_queries.og_image_candidates(
            "category",
            category.id if category else None,
            category.og_image_id if category else None,
        ),
        status=status,
    )


def _previews(
    kind: str, item: Category | Tag | None, form: CategoryForm | TagForm
) -> dict[str, dict]:
    """The search-result preview of each language, from the form as shown."""
    return {
        code: seo_preview(
            code,
            form[code].form.values(),
            item.translations[code].slug if item and code in item.translations else None,
            kind=kind,
            noindex=bool(form.noindex.data),
        )
        for code in LOCALES
    }


def _preview(kind: str, model: type, text_form: type) -> Response:
    """One language's preview, from the form as typed (HTMX, on input)."""
    locale = request.form.get("locale", "")
    if locale not in LOCALES:
        abort(400)
    values = text_form(request.form, prefix=f"{locale}-").values()
    item_id = identifier(request.form.get("item_id"))
    item = db.session.get(model, item_id) if item_id else None
    current = item.translations.get(locale) if item else None
    return render(
        "admin/catalogue/_seo_preview.html",
        preview=seo_preview(
            locale,
            values,
            current.slug if current else None,
            kind=kind,
            noindex=bool(request.form.get("noindex")),
        ),
        check=None,
    )


@admin_route("/categories/seo-preview", Permission.CATALOGUE_READ, methods=("POST",))
def categories_preview() -> Response:
    return _preview("category", Category, CategoryTextForm)


@admin_route("/tags/seo-preview", Permission.CATALOGUE_READ, methods=("POST",))
def tags_preview() -> Response:
    return _preview("tag", Tag, TagTextForm)


@admin_route("/categories/new", Permission.CATALOGUE_WRITE, methods=("GET", "POST"))
@form_view
def categories_new() -> Response:
    form = CategoryForm(locale=staff_lang())
    if form.validate_on_submit():
        try:
            with audited("category.create", "category") as entry:
                taxonomy.save_category(
                    None, form.category_input(), created=created(entry, taxonomy.category_snapshot)
                )
        except CatalogueError as error:
            apply_errors(form, error)
        else:
            flash(_("The category has been created."), "success")
            return redirect_to(url_for("admin.categories"))
    return _category_page(None, form, submitted_status(form))


@admin_route("/categories/<int:category_id>", Permission.CATALOGUE_READ)
def categories_edit(category_id: int) -> Response:
    category = or_404(taxonomy.load_category, category_id)
    form = CategoryForm(
        formdata=None,
        data=category_form_data(category),
        locale=staff_lang(),
        exclude=staff_queries.descendant_ids(category.id),
    )
    return _category_page(category, form)


@admin_route(
    "/categories/<int:category_id>",
    Permission.CATALOGUE_WRITE,
    methods=("POST",),
    endpoint="categories_update",
)
@form_view
def categories_update(category_id: int) -> Response:
    """Rename, re-address (old addresses answer 301) or move a category; never under itself."""
    category = or_404(taxonomy.load_category, category_id)
    form = CategoryForm(locale=staff_lang(), exclude=staff_queries.descendant_ids(category.id))
    if form.validate_on_submit():
        before = taxonomy.category_snapshot(category)
        try:
            with audited(
                "category.update",
                "category",
                category.id,
                before=before,
                after=lambda: taxonomy.category_snapshot(category),
            ):
                taxonomy.save_category(category.id, form.category_input())
        except CatalogueError as error:
            apply_errors(form, error)
            category = or_404(taxonomy.load_category, category_id)
        else:
            flash(_("The category has been saved."), "success")
            return redirect_to(url_for("admin.categories"))
    return _category_page(category, form, submitted_status(form))


@admin_route("/categories/<int:category_id>/delete", Permission.CATALOGUE_WRITE, methods=("POST",))
@form_view
def categories_delete(category_id: int) -> Response:
    category = or_404(taxonomy.load_category, category_id)
    form = ActionForm()
    if not form.validate_on_submit():
        return _categories_page(
            [_("This action could not be understood. Please try again from the page.")],
            submitted_status(form, 400),
        )
    try:
        with audited(
            "category.delete", "category", category.id, before=taxonomy.category_snapshot(category)
        ):
            taxonomy.delete_category(category.id)
    except CatalogueError as error:
        return _categories_page([str(r.message) for r in refusals(error)], 409)
    flash(_("The category has been deleted."), "success")
    return redirect_to(url_for("admin.categories"))


# -- tags --------------------------------------------------------------------------------


@admin_route("/tags", Permission.CATALOGUE_READ)
def tags() -> Response:
    return _tags_page(TagForm(formdata=None))


def _tags_page(form: TagForm, problems: list[str] | None = None, status: int = 200) -> Response:
    return render(
        "admin/catalogue/tags.html",
        rows=staff_queries.tag_rows(staff_lang()),
        form=form,
        action_form=ActionForm(formdata=None),
        problems=problems or [],
        status=status,
    )


@admin_route("/tags/new", Permission.CATALOGUE_WRITE, methods=("POST",))
@form_view
def tags_new() -> Response:
    """The creation form sits on the tag list; a refusal shows the list with the form kept."""
    form = TagForm()
    if form.validate_on_submit():
        try:
            with audited("tag.create", "tag") as entry:
                taxonomy.save_tag(
                    None,
                    form.tag_texts(),
                    noindex=bool(form.noindex.data),
                    created=created(entry, taxonomy.tag_snapshot),
                )
        except CatalogueError as error:
            apply_errors(form, error)
        else:
            flash(_("The tag has been created."), "success")
            return redirect_to(url_for("admin.tags"))
    return _tags_page(form, status=submitted_status(form))


@admin_route("/tags/<int:tag_id>", Permission.CATALOGUE_READ)
def tags_edit(tag_id: int) -> Response:
    tag = or_404(taxonomy.load_tag, tag_id)
    return _tag_page(tag, TagForm(formdata=None, data=tag_form_data(tag)))


def _tag_page(tag: Tag, form: TagForm, status: int = 200) -> Response:
    return render(
        "admin/catalogue/tag.html",
        tag=tag,
        form=form,
        previews=_previews("tag", tag, form),
        og_images=staff_queries.og_image_candidates("tag", tag.id, tag.og_image_id),
        status=status,
    )


@admin_route(
    "/tags/<int:tag_id>", Permission.CATALOGUE_WRITE, methods=("POST",), endpoint="tags_update"
)
@form_view
def tags_update(tag_id: int) -> Response:
    tag = or_404(taxonomy.load_tag, tag_id)
    form = TagForm()
    if form.validate_on_submit():
        before = taxonomy.tag_snapshot(tag)
        try:
            with audited(
                "tag.update",
                "tag",
                tag.id,
                before=before,
                after=lambda: taxonomy.tag_snapshot(tag),
            ):
                taxonomy.save_tag(
                    tag.id,
                    form.tag_texts(),
                    noindex=bool(form.noindex.data),
                    og_image_id=form.og_image_id.data,
                )
        except CatalogueError as error:
            apply_errors(form, error)
            tag = or_404(taxonomy.load_tag, tag_id)
        else:
            flash(_("The tag has been saved."), "success")
            return redirect_to(url_for("admin.tags"))
    return _tag_page(tag, form, submitted_status(form))


@admin_route("/tags/<int:tag_id>/delete", Permission.CATALOGUE_WRITE, methods=("POST",))
@form_view
def tags_delete(tag_id: int) -> Response:
    tag = or_404(taxonomy.load_tag, tag_id)
    form = ActionForm()
    if not form.validate_on_submit():
        return _tags_page(
            TagForm(formdata=None),
            [_("This action could not be understood. Please try again from the page.")],
            submitted_status(form, 400),
        )
    with audited("tag.delete", "tag", tag.id, before=taxonomy.tag_snapshot(tag)):
        taxonomy.delete_tag(tag.id)
    flash(_("The tag has been deleted."), "success")
    return redirect_to(url_for("admin.tags"))
