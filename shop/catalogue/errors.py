"""Why the catalogue refuses a change, in words the person who asked can act on.

Every refusal is a ``CatalogueError`` with a translated ``message``; one about a form field
names it (``field``, e.g. "fr-title") so the back office shows it there. The services check
everything before they write, so a refusal leaves the catalogue as it was.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask_babel import lazy_gettext as _l


class CatalogueError(Exception):
    message = _l("This change could not be saved.")


class NotFound(CatalogueError):
    message = _l("This item does not exist (any more).")


class FieldError(CatalogueError):
    """A refusal about one form field (``field``, e.g. "fr-title"), or the whole form."""

    field: str | None = None

    def __init__(self, *args: object, field: str | None = None) -> None:
        super().__init__(*args)
        if field is not None:
            self.field = field


class InvalidChoice(FieldError):
    message = _l("Please choose one of the listed options.")


class SlugTaken(FieldError):
    message = _l("This web address is already used by another page.")


class CanonicalRefused(FieldError):
    """A canonical override that is neither an http(s) URL nor a path of the shop."""

    def __init__(self, message: object, *, field: str) -> None:
        super().__init__(message, field=field)
        self.message = message


# -- products ----------------------------------------------------------------------------


class PublishingProblem(FieldError):
    """Something a product needs before it is shown; ``missing`` names it in a list."""

    missing = _l("something")


class FrenchTitleMissing(PublishingProblem):
    field = "fr-title"
    message = _l("A product can only be published with its French title.")
    missing = _l("French title")


class FrenchDescriptionMissing(PublishingProblem):
    field = "fr-description"
    message = _l("A product can only be published with its French description.")
    missing = _l("French description")


class EnglishTitleMissing(PublishingProblem):
    field = "en-title"
    message = _l(
        "A product can only be published with its English title too: the shop shows every "
        "product in both languages."
    )
    missing = _l("English title")


class NoVariant(PublishingProblem):
    field = "status"
    message = _l("Add a variant with its price before publishing this product.")
    missing = _l("a variant")


class TitleMissing(FieldError):
    field = "fr-title"
    message = _l("Please enter a title, in French or in English.")


class TitleRequired(FieldError):
    """A language's text without its title, or a title removed once given."""

    message = _l("Please enter the title in this language, or leave all its fields empty.")


# -- variants ----------------------------------------------------------------------------


class NegativePrice(FieldError):
    field = "price"
    message = _l("The price cannot be negative.")


class CompareAtTooLow(FieldError):
    field = "compare_at_price"
    message = _l("The compare-at price must be above the price, or left empty.")


class SkuTaken(FieldError):
    field = "sku"
    message = _l("This SKU is already used by another variant.")


class SkuMissing(FieldError):
    field = "sku"
    message = _l("Please enter a SKU.")


class LastVariant(FieldError):
    message = _l("A published product keeps at least one variant. Archive the product instead.")


# -- categories and tags -----------------------------------------------------------------


class NameMissing(FieldError):
    message = _l("Please enter the name in both languages.")


class CategoryCycle(FieldError):
    field = "parent_id"
    message = _l("A category cannot be placed inside itself or one of its subcategories.")


class CategoryNotEmpty(FieldError):
    message = _l(
        "Only an empty category can be deleted: move its subcategories and products first."
    )


# -- several at once ---------------------------------------------------------------------


class Refused(CatalogueError):
    """Several refusals at once, so a form can show every one of them."""

    def __init__(self, errors: Sequence[CatalogueError]) -> None:
        super().__init__(*errors)
        self.errors = list(errors)
        self.message = errors[0].message


def refuse(errors: Sequence[CatalogueError]) -> None:
    """Raise the refusal (or all of them), if there is any."""
    if errors:
        raise Refused(errors) if len(errors) > 1 else errors[0]
