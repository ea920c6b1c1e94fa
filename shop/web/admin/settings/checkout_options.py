"""Settings the storefront reads at checkout and after: the bank details customers pay a
transfer to, and the abandoned-cart reminders (their delays and legal basis).

Both are plain ``platform_config`` rows read on each use (no process keeps a copy), so a
save takes effect on the next page or job. Every change is audited with its before and after.
"""

from __future__ import annotations

from flask import request
from werkzeug.wrappers import Response

from shop import page_cache
from shop.accounts.permissions import Permission
from shop.platform import bank
from shop.platform import services as platform
from shop.recovery import policy
from shop.web.admin import admin_route
from shop.web.admin.auditing import audited
from shop.web.admin.settings.forms import BASIS_HELP, BankForm, RecoveryForm
from shop.web.admin.settings.store import NOTHING_CHANGED, SAVED, saved_response
from shop.web.forms import form_status
from shop.web.htmx import render
from shop.web.security import form_view


def _save(
    entity_id: str, current: dict[str, str], values: dict[str, str], *, keep_empty: bool = False
) -> bool:
    """Save the keys whose value changed, audited; an empty value is removed (back to the
    default) unless ``keep_empty``. False when nothing changed."""
    changed = {key: value for key, value in values.items() if value != current[key]}
    if not changed:
        return False
    with audited(
        "settings.update",
        "settings",
        entity_id,
        before={key: current[key] for key in changed},
        after=changed,
    ):
        platform.update_settings(
            {key: value for key, value in changed.items() if value or keep_empty},
            remove=[key for key, value in changed.items() if not (value or keep_empty)],
        )
    page_cache.catalogue_changed()  # the storefront's footer names the payment methods
    return True


# -- bank transfer ---------------------------------------------------------------------------

BANK_PAGE = "admin/settings/bank.html"
BANK_FORM = "admin/settings/_bank_form.html"


def _bank_form_data(values: dict[str, str]) -> dict[str, str]:
    """The saved values as the form shows them: the IBAN in groups of four."""
    iban = values[bank.IBAN_KEY]
    return {**values, bank.IBAN_KEY: bank.format_iban(iban) if iban else ""}


@admin_route("/settings/bank", Permission.SETTINGS, methods=("GET", "POST"))
@form_view
def settings_bank() -> Response:
    current = bank.saved()
    if request.method == "GET":
        form = BankForm(data=_bank_form_data(current))
        return render(BANK_PAGE, BANK_FORM, form=form, offered=bank.bank_details() is not None)
    form = BankForm()
    if not form.validate_on_submit():
        return render(
            BANK_PAGE,
            BANK_FORM,
            form=form,
            offered=bank.bank_details() is not None,
            status=form_status(form),
        )
    values = form.values()
    message = SAVED if _save("bank", current, values) else NOTHING_CHANGED
    return saved_response(
        BANK_PAGE,
        BANK_FORM,
        message,
        form=BankForm(formdata=None, data=_bank_form_data(values)),
        offered=bool(values[bank.IBAN_KEY]),
    )


# -- abandoned carts -------------------------------------------------------------------------

RECOVERY_PAGE = "admin/settings/recovery.html"
RECOVERY_FORM = "admin/settings/_recovery_form.html"


def _recovery_current() -> dict[str, str]:
    """The settings in force (the defaults when unset), in their stored form."""
    return {
        policy.DELAYS_SETTING: ",".join(
            f"{delay.total_seconds() / 3600:g}" for delay in policy.delays()
        ),
        policy.BASIS_SETTING: policy.basis(),
    }


def _recovery_page(form: RecoveryForm, *, status: int = 200) -> Response:
    return render(RECOVERY_PAGE, RECOVERY_FORM, form=form, status=status, basis_help=BASIS_HELP)


def _recovery_form_data(values: dict[str, str]) -> dict[str, str]:
    delays = values[policy.DELAYS_SETTING]
    return {
        policy.DELAYS_SETTING: policy.delays_text(policy.parse_delays(delays)),
        policy.BASIS_SETTING: values[policy.BASIS_SETTING],
    }


@admin_route("/settings/abandoned-carts", Permission.SETTINGS, methods=("GET", "POST"))
@form_view
def settings_recovery() -> Response:
    current = _recovery_current()
    if request.method == "GET":
        return _recovery_page(RecoveryForm(data=_recovery_form_data(current)))
    form = RecoveryForm()
    if not form.validate_on_submit():
        return _recovery_page(form, status=form_status(form))
    values = form.values()
    saved = _save("cart_recovery", current, values, keep_empty=True)  # empty: no reminders
    message = SAVED if saved else NOTHING_CHANGED
    return saved_response(
        RECOVERY_PAGE,
        RECOVERY_FORM,
        message,
        form=RecoveryForm(formdata=None, data=_recovery_form_data(values)),
        basis_help=BASIS_HELP,
    )
