"""Back-office catalogue forms: French and English side by side, amounts in the staff
member's number format, and small action forms that refuse an empty post."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    AnyOf,
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
)
from wtforms.widgets import CheckboxInput, ListWidget

from shop.catalogue import admin_queries as staff_queries
from shop.catalogue import services as catalogue
from shop.catalogue import taxonomy
from shop.catalogue.models import (
    CANONICAL_URL_LENGTH,
    Category,
    Product,
    ProductKind,
    ProductStatus,
    ProductVariant,
    Tag,
    TaxClass,
)
from shop.catalogue.services import Text
from shop.config import LOCALES
from shop.paging import parse_id
from shop.web.admin import numbers
from shop.web.admin.numbers import BadNumber, currency_digits

LANGUAGES = {"fr": _l("French"), "en": _l("English")}
STATUS_LABELS = {
    ProductStatus.DRAFT: _l("Draft"),
    ProductStatus.ACTIVE: _l("Published"),
    ProductStatus.ARCHIVED: _l("Archived"),
}
KIND_LABELS = {
    ProductKind.PHYSICAL: _l("Physical"),
    ProductKind.DIGITAL: _l("Digital"),
    ProductKind.SERVICE: _l("Service"),
}
TAX_CLASS_LABELS = {
    TaxClass.STANDARD: _l("Standard rate"),
    TaxClass.REDUCED: _l("Reduced rate"),
    TaxClass.SUPER_REDUCED: _l("Super-reduced rate"),
    TaxClass.ZERO: _l("Zero rate"),
}
STOCK_LABELS = {"in_stock": _l("In stock"), "low": _l("Low stock"), "out": _l("Out of stock")}
SORT_LABELS = {
    "updated": _l("Last modified"),
    "title": _l("Title"),
    "price_asc": _l("Price, lowest first"),
    "price_desc": _l("Price, highest first"),
    "created": _l("Recently created"),
}


def options(pairs: Iterable[tuple[Any, Any]]) -> list[SelectChoice]:
    """Select options from (value, label) pairs; "" stands for "none"."""
    return [
        SelectChoice(value="" if value is None else str(value), label=label)
        for value, label in pairs
    ]


def too_long(limit: int) -> Length:
    return Length(max=limit, message=_l("Please use at most %(max)d characters."))


def identifier(value: Any) -> int | None:
    """An id from a select: None for "none", 0 (unknown to every table) for garbage."""
    if value in (None, "", "None"):
        return None
    return parse_id(value) or 0


def labelled(form: Form, locale: str) -> None:
    """'Title (French)': each side of a side-by-side form says its language."""
    for sub in form:
        sub.label.text = _(
            "%(field)s (%(language)s)", field=sub.label.text, language=LANGUAGES[locale]
        )


# -- what search engines and social networks see ----------------------------------------


def meta_title_field() -> StringField:
    return StringField(
        _l("Meta title"),
        [Optional(), too_long(160)],
        description=_l("About 60 characters show in search results. Empty: the title."),
        render_kw={"maxlength": 160},
    )


def meta_description_field() -> TextAreaField:
    return TextAreaField(
        _l("Meta description"),
        [Optional(), too_long(320)],
        description=_l(
            "About 160 characters show in search results. Empty: the start of the description."
        ),
        render_kw={"rows": 3, "maxlength": 320},
    )


def canonical_field() -> StringField:
    return StringField(
        _l("Canonical address"),
        [Optional(), too_long(CANONICAL_URL_LENGTH)],
        description=_l(
            "Leave empty: this page is its own canonical address. Otherwise the address of the "
            "page search engines should show instead, in full (https://…) or on this shop "
            "(/fr/…); this page then leaves the sitemaps."
        ),
        render_kw={"inputmode": "url", "autocomplete": "off"},
    )


def noindex_field() -> BooleanField:
    return BooleanField(
        _l("Hide from search engines (noindex)"),
        description=_l(
            "Shoppers still see the page in both languages; search engines are asked not to "
            "list it, and it leaves the sitemaps."
        ),
    )


def og_image_field() -> SelectField:
    """An image id, picked among pictures (admin/catalogue/_fields.html ``og_image_picker``);
    the service checks it is one of those offered."""
    return SelectField(
        _l("Image shown when the page is shared"),
        choices=[],
        coerce=identifier,
        validate_choice=False,
    )


# -- money -------------------------------------------------------------------------------


def format_amount(minor_units: int | None) -> str:
    """12,50 in French, 12.50 in English: what staff type, without the currency sign."""
    return "" if minor_units is None else numbers.format_minor(minor_units)


def parse_amount(text: str) -> int:
    """Minor units from an amount typed in the staff member's language; ValueError (with a
    translated message) when it is not one."""
    try:
        return numbers.parse_amount(text)
    except BadNumber as error:
        raise ValueError(_amount_error(error.reason)) from error


def _amount_error(reason: str) -> str:
    if reason == BadNumber.NEGATIVE:
        return _("The price cannot be negative.")
    if reason == BadNumber.TOO_PRECISE:
        return _("Please use at most %(digits)d decimals.", digits=currency_digits())
    if reason == BadNumber.TOO_LARGE:
        return _("This amount is too large.")
    example = format_amount(1250 if currency_digits() else 12)
    return _("Please enter an amount such as %(example)s.", example=example)


class AmountField(StringField):
    """A price typed as a decimal amount in the staff member's language, kept in minor units."""

    data: int | None

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.raw = str(valuelist[0]) if valuelist else ""
        self.data = None
        if self.raw.strip():
            self.data = parse_amount(self.raw)

    def _value(self) -> str:
        raw = getattr(self, "raw", None)
        if raw is not None:
            return raw
        return format_amount(self.data)


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


# -- products ----------------------------------------------------------------------------


class ProductTextForm(Form):
    title = StringField(_l("Title"), [Optional(), too_long(200)])
    slug = StringField(
        _l("Web address"),
        [Optional(), too_long(200)],
        description=_l(
            "Leave empty to make it from the title. A change keeps the old address working (301)."
        ),
    )
    description = TextAreaField(
        _l("Product description"),
        description=_l("Paragraphs, lists, links and headings; anything else is removed."),
        render_kw={"rows": 8},
    )
    meta_title = meta_title_field()
    meta_description = meta_description_field()
    canonical_url = canonical_field()

    def values(self) -> dict[str, str]:
        return {name: (self[name].data or "") for name in self._fields}

    def text(self) -> Text | None:
        """None when every field is empty: no text in this language."""
        values = {k: v.strip() if k != "description" else v for k, v in self.values().items()}
        if not any(v.strip() for v in values.values()):
            return None
        return Text(
            title=values["title"],
            description=values["description"],
            slug=values["slug"] or None,
            meta_title=values["meta_title"],
            meta_description=values["meta_description"],
            canonical_url=values["canonical_url"],
        )


class ProductForm(FlaskForm):
    fr = FormField(ProductTextForm, label=LANGUAGES["fr"])
    en = FormField(ProductTextForm, label=LANGUAGES["en"])
    status = SelectField(
        _l("Status"), choices=options(STATUS_LABELS.items()), validate_choice=False
    )
    kind = SelectField(
        _l("Product type"), choices=options(KIND_LABELS.items()), validate_choice=False
    )
    tax_class = SelectField(
        _l("Tax class"), choices=options(TAX_CLASS_LABELS.items()), validate_choice=False
    )
    category_id = SelectField(_l("Category"), coerce=identifier, validate_choice=False)
    tags = MultiCheckboxField(_l("Tags"), coerce=identifier, validate_choice=False)
    featured = BooleanField(_l("Featured on the home page"))
    noindex = noindex_field()
    og_image_id = og_image_field()

    def __init__(self, *args: Any, locale: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for code in LOCALES:
            labelled(self[code].form, code)
        self.category_id.choices = options(
            [(None, _("No category"))]
            + [
                (cid, "— " * depth + name)
                for cid, name, depth in staff_queries.category_choices(locale)
            ]
        )
        self.tags.choices = options(staff_queries.tag_choices(locale))

    def product_input(self) -> catalogue.ProductInput:
        return catalogue.ProductInput(
            texts={code: self[code].form.text() for code in LOCALES},
            kind=self.kind.data or "",
            status=self.status.data or "",
            tax_class=self.tax_class.data or "",
            category_id=self.category_id.data,
            tag_ids=tuple(t if t is not None else 0 for t in (self.tags.data or ())),
            featured=bool(self.featured.data),
            noindex=bool(self.noindex.data),
            og_image_id=self.og_image_id.data,
        )


def product_form_data(product: Product) -> dict[str, Any]:
    data: dict[str, Any] = {
        "noindex": product.noindex,
        "og_image_id": product.og_image_id,
        "status": product.status,
        "kind": product.kind,
        "tax_class": product.tax_class,
        "category_id": product.category_id,
        "tags": [tag.id for tag in product.tags],
        "featured": product.featured,
    }
    for code, values in staff_queries.saved_texts(product).items():
        data[code] = values
    return data


class ActionForm(FlaskForm):
    """A button's form: the hidden ``confirm`` makes an empty post a refusal, not an action."""

    confirm = HiddenField(validators=[InputRequired(), AnyOf(["1"])])


class StatusForm(ActionForm):
    status = HiddenField(validators=[AnyOf(list(ProductStatus.ALL))])


class BulkForm(FlaskForm):
    product_ids = SelectMultipleField(coerce=identifier, validate_choice=False)
    action = SelectField(
        _l("With the ticked products"),
        choices=options(
            [
                ("", _l("Choose an action")),
                ("publish", _l("Publish")),
                ("archive", _l("Archive")),
                ("add_tag", _l("Add the tag")),
            ]
        ),
        validate_choice=False,
    )
    tag_id = SelectField(_l("Tag to add"), coerce=identifier, validate_choice=False)

    def __init__(self, *args: Any, locale: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tag_id.choices = options([(None, "—"), *staff_queries.tag_choices(locale)])

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        ids = [i for i in (self.product_ids.data or []) if i]
        if not ids:
            self.form_errors.append(_("Please tick at least one product."))
            ok = False
        if self.action.data not in ("publish", "archive", "add_tag"):
            self.action.errors = [*self.action.errors, _("Please choose an action.")]
            ok = False
        elif self.action.data == "add_tag" and not self.tag_id.data:
            self.tag_id.errors = [*self.tag_id.errors, _("Please choose the tag to add.")]
            ok = False
        return ok


# -- variants ----------------------------------------------------------------------------


class OptionForm(Form):
    name_fr = StringField(_l("Option name (French)"), [Optional(), too_long(60)])
    value_fr = StringField(_l("Value (French)"), [Optional(), too_long(60)])
    name_en = StringField(_l("Option name (English)"), [Optional(), too_long(60)])
    value_en = StringField(_l("Value (English)"), [Optional(), too_long(60)])

    def option(self) -> dict[str, Any] | None:
        values = {name: (self[name].data or "").strip() for name in self._fields}
        if not any(values.values()):
            return None
        return {
            "name": {"fr": values["name_fr"], "en": values["name_en"]},
            "value": {"fr": values["value_fr"], "en": values["value_en"]},
        }


OPTION_SLOTS = ("option1", "option2")


class VariantForm(FlaskForm):
    sku = StringField(
        _l("SKU"),
        [DataRequired(message=_l("Please enter a SKU.")), too_long(64)],
        description=_l("Unique across the catalogue."),
    )
    price = AmountField(_l("Price"), [InputRequired(message=_l("Please enter the price."))])
    compare_at_price = AmountField(
        _l("Compare-at price"),
        [Optional()],
        description=_l(
            "Fill it in to announce a reduction; leave it empty for none. The price shown "
            "struck through is the lowest of the 30 days before the current price (EU rule)."
        ),
    )
    barcode = StringField(
        _l("Barcode"),
        [
            Optional(),
            Regexp(r"^\d{8,14}$", message=_l("A barcode has 8 to 14 digits (EAN, UPC).")),
        ],
    )
    weight_grams = IntegerField(
        _l("Weight in grams"),
        [
            Optional(),
            NumberRange(min=0, max=1_000_000, message=_l("Please enter a weight in grams.")),
        ],
    )
    track_inventory = BooleanField(_l("Track stock"), default=True)
    option1 = FormField(OptionForm, label=_l("Option 1"))
    option2 = FormField(OptionForm, label=_l("Option 2"))

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        for slot in OPTION_SLOTS:
            option = self[slot].form.option()
            if option and not all(
                option[part][code] for part in ("name", "value") for code in LOCALES
            ):
                self[slot].errors = [
                    _("Please give the option's name and value in both languages.")
                ]
                ok = False
        return ok

    def variant_input(self) -> catalogue.VariantInput:
        return catalogue.VariantInput(
            sku=(self.sku.data or "").strip(),
            price=self.price.data if self.price.data is not None else -1,
            compare_at_price=self.compare_at_price.data,
            barcode=(self.barcode.data or "").strip() or None,
            options=[o for slot in OPTION_SLOTS if (o := self[slot].form.option())],
            track_inventory=bool(self.track_inventory.data),
            weight_grams=self.weight_grams.data,
        )


def variant_form_data(variant: ProductVariant) -> dict[str, Any]:
    data: dict[str, Any] = {
        "sku": variant.sku,
        "price": variant.price,
        "compare_at_price": variant.compare_at_price,
        "barcode": variant.barcode or "",
        "weight_grams": variant.weight_grams,
        "track_inventory": variant.track_inventory,
    }
    for slot, option in zip(OPTION_SLOTS, variant.options or [], strict=False):
        data[slot] = {
            f"{part}_{code}": (option.get(part) or {}).get(code, "")
            for part in ("name", "value")
            for code in LOCALES
        }
    return data


# -- images ------------------------------------------------------------------------------


class ImageUploadForm(FlaskForm):
    image = FileField(
        _l("Image"),
        [FileRequired(message=_l("Please choose an image file."))],
        description=_l("JPEG, PNG or WebP."),
        render_kw={"accept": "image/jpeg,image/png,image/webp"},
    )
    alt_fr = StringField(_l("Alternative text (French)"), [Optional(), too_long(200)])
    alt_en = StringField(_l("Alternative text (English)"), [Optional(), too_long(200)])


class ImageAltForm(FlaskForm):
    alt_fr = StringField(_l("Alternative text (French)"), [Optional(), too_long(200)])
    alt_en = StringField(_l("Alternative text (English)"), [Optional(), too_long(200)])
    confirm = HiddenField(validators=[InputRequired(), AnyOf(["1"])])


class MoveForm(FlaskForm):
    direction = HiddenField(validators=[AnyOf(["up", "down"])])


# -- categories and tags -----------------------------------------------------------------


class CategoryTextForm(Form):
    name = StringField(_l("Name"), [Optional(), too_long(120)])
    slug = StringField(
        _l("Web address"),
        [Optional(), too_long(120)],
        description=_l(
            "Leave empty to make it from the name. A change keeps the old address working (301)."
        ),
    )
    description = TextAreaField(_l("Category description"), render_kw={"rows": 4})
    meta_title = meta_title_field()
    meta_description = meta_description_field()
    canonical_url = canonical_field()

    def values(self) -> dict[str, str]:
        return {name: (self[name].data or "") for name in self._fields}

    def category_text(self) -> taxonomy.CategoryText:
        return taxonomy.CategoryText(
            name=(self.name.data or "").strip(),
            slug=(self.slug.data or "").strip(),
            description=self.description.data or "",
            meta_title=(self.meta_title.data or "").strip(),
            meta_description=(self.meta_description.data or "").strip(),
            canonical_url=(self.canonical_url.data or "").strip(),
        )


class CategoryForm(FlaskForm):
    fr = FormField(CategoryTextForm, label=LANGUAGES["fr"])
    en = FormField(CategoryTextForm, label=LANGUAGES["en"])
    parent_id = SelectField(_l("Parent category"), coerce=identifier, validate_choice=False)
    position = IntegerField(
        _l("Position among its siblings"),
        [Optional(), NumberRange(min=0, max=10_000, message=_l("Please enter a number from 0."))],
        default=0,
    )
    featured = BooleanField(_l("Featured on the home page"))
    noindex = noindex_field()
    og_image_id = og_image_field()

    def __init__(self, *args: Any, locale: str, exclude: set[int] = frozenset(), **kwargs: Any):
        super().__init__(*args, **kwargs)
        for code in LOCALES:
            labelled(self[code].form, code)
        self.parent_id.choices = options(
            [(None, _("None (top level)"))]
            + [
                (cid, "— " * depth + name)
                for cid, name, depth in staff_queries.category_choices(locale)
                if cid not in exclude
            ]
        )

    def category_input(self) -> taxonomy.CategoryInput:
        return taxonomy.CategoryInput(
            texts={code: self[code].form.category_text() for code in LOCALES},
            parent_id=self.parent_id.data,
            position=self.position.data or 0,
            featured=bool(self.featured.data),
            noindex=bool(self.noindex.data),
            og_image_id=self.og_image_id.data,
        )


def category_form_data(category: Category) -> dict[str, Any]:
    data: dict[str, Any] = {
        "parent_id": category.parent_id,
        "position": category.position,
        "featured": category.featured,
        "noindex": category.noindex,
        "og_image_id": category.og_image_id,
    }
    for code, text in category.translations.items():
        data[code] = {
            "name": text.name,
            "slug": text.slug,
            "description": text.description,
            "meta_title": text.meta_title,
            "meta_description": text.meta_description,
            "canonical_url": text.canonical_url,
        }
    return data


class TagTextForm(Form):
    name = StringField(_l("Name"), [Optional(), too_long(80)])
    slug = StringField(
        _l("Web address"),
        [Optional(), too_long(100)],
        description=_l("Leave empty to make it from the name."),
    )
    meta_title = meta_title_field()
    meta_description = meta_description_field()
    canonical_url = canonical_field()

    def values(self) -> dict[str, str]:
        return {name: (self[name].data or "") for name in self._fields}


class TagForm(FlaskForm):
    fr = FormField(TagTextForm, label=LANGUAGES["fr"])
    en = FormField(TagTextForm, label=LANGUAGES["en"])
    noindex = noindex_field()
    og_image_id = og_image_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for code in LOCALES:
            labelled(self[code].form, code)

    def tag_texts(self) -> dict[str, taxonomy.TagText]:
        return {
            code: taxonomy.TagText(
                **{name: (value or "").strip() for name, value in self[code].form.values().items()}
            )
            for code in LOCALES
        }


def tag_form_data(tag: Tag) -> dict[str, Any]:
    data: dict[str, Any] = {"noindex": tag.noindex, "og_image_id": tag.og_image_id}
    for code, text in tag.translations.items():
        data[code] = {
            "name": text.name,
            "slug": text.slug,
            "meta_title": text.meta_title,
            "meta_description": text.meta_description,
            "canonical_url": text.canonical_url,
        }
    return data
