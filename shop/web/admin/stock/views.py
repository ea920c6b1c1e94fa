"""Back-office stock: levels per variant, the low-stock list, the movement ledger, current
holds, and corrections (always with a reason, each one a movement) and thresholds."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from shop.accounts.permissions import Permission
from shop.backoffice import stock as admin_queries
from shop.backoffice.stock import LedgerFilters, StockFilters, StockRow
from shop.extensions import db
from shop.inventory import adjustments
from shop.inventory import services as inventory
from shop.inventory.models import InventoryItem, MovementKind
from shop.paging import page_number
from shop.web.admin import admin_route
from shop.web.admin.auditing import audited
from shop.web.admin.orders import labels  # noqa: F401 (template helpers: movement_label)
from shop.web.admin.stock.forms import AdjustStockForm, ThresholdForm
from shop.web.forms import form_status
from shop.web.htmx import redirect_to, render
from shop.web.security import form_view


def _lang() -> str:
    return str(get_locale() or "fr")


def _page_number() -> int:
    return page_number(request.args.get("page"))


def _levels(low: bool) -> Response:
    q = request.args.get("q", "").strip()[:100]
    filters = StockFilters(q=q, low=low or request.args.get("low") == "1")
    page = admin_queries.stock_levels(filters, lang=_lang(), page=_page_number())
    endpoint = "admin.stock_low" if low else "admin.stock"
    args = {k: v for k, v in {"q": q, "low": "1" if filters.low and not low else ""}.items() if v}
    return render(
        "admin/stock/list.html",
        "admin/stock/_results.html",
        listing=page,
        filters=filters,
        args=args,
        endpoint=endpoint,
        low_list=low,
        default_threshold=adjustments.default_low_stock_threshold(),
    )


@admin_route("/stock", Permission.STOCK_READ, endpoint="stock")
def stock_levels() -> Response:
    return _levels(low=False)


@admin_route("/stock/low", Permission.STOCK_READ)
def stock_low() -> Response:
    return _levels(low=True)


@admin_route("/stock/movements", Permission.STOCK_READ)
def stock_movements() -> Response:
    kind = request.args.get("kind", "")
    q = request.args.get("q", "").strip()[:100]
    filters = LedgerFilters(kind=kind if kind in MovementKind.ALL else "", q=q)
    page = admin_queries.ledger(filters, page=_page_number())
    args = {k: v for k, v in {"kind": filters.kind, "q": q}.items() if v}
    return render(
        "admin/stock/movements.html",
        "admin/stock/_movements.html",
        listing=page,
        filters=filters,
        args=args,
        kinds=MovementKind.ALL,
        endpoint="admin.stock_movements",
        values={},
    )


@admin_route("/stock/reservations", Permission.STOCK_READ)
def stock_reservations() -> Response:
    page = admin_queries.reservations(page=_page_number())
    return render(
        "admin/stock/reservations.html",
        "admin/stock/_reservations.html",
        listing=page,
        endpoint="admin.stock_reservations",
        values={},
    )


# -- one variant -----------------------------------------------------------------------------


def _level_or_404(variant_id: int) -> StockRow:
    level = admin_queries.stock_level(variant_id, lang=_lang())
    if level is None:
        abort(404)
    return level


def _variant_page(
    level: StockRow,
    status: int = 200,
    *,
    adjust_form: AdjustStockForm | None = None,
    threshold_form: ThresholdForm | None = None,
    error: str | None = None,
) -> Response:
    variant_id = level.variant_id
    kind = request.args.get("kind", "")
    ledger_filters = LedgerFilters(
        variant_id=variant_id, kind=kind if kind in MovementKind.ALL else ""
    )
    if threshold_form is None:
        threshold_form = ThresholdForm(formdata=None)
        threshold_form.threshold.data = (
            str(level.own_threshold) if level.own_threshold is not None else ""
        )
        threshold_form.use_default.data = level.own_threshold is None
    return render(
        "admin/stock/variant.html",
        "admin/stock/_panel.html",
        status=status,
        level=level,
        adjust_form=adjust_form or AdjustStockForm(formdata=None),
        threshold_form=threshold_form,
        error=error,
        ledger_page=admin_queries.ledger(
            ledger_filters, page=_page_number() if request.method == "GET" else 1
        ),
        ledger_filters=ledger_filters,
        holds=admin_queries.reservations(variant_id=variant_id, per_page=200),
        kinds=MovementKind.ALL,
        default_threshold=adjustments.default_low_stock_threshold(),
    )


@admin_route("/stock/<int:variant_id>", Permission.STOCK_READ)
def stock_variant(variant_id: int) -> Response:
    return _variant_page(_level_or_404(variant_id))


def _snapshot(variant_id: int) -> dict[str, Any]:
    row = db.session.execute(
        select(
            InventoryItem.on_hand, InventoryItem.reserved, InventoryItem.low_stock_threshold
        ).where(InventoryItem.variant_id == variant_id)
    ).first()
    if row is None:
        return {"on_hand": 0, "reserved": 0, "threshold": None}
    return {"on_hand": row.on_hand, "reserved": row.reserved, "threshold": row.low_stock_threshold}


@admin_route("/stock/<int:variant_id>/adjust", Permission.STOCK_WRITE, methods=("POST",))
@form_view
def stock_adjust(variant_id: int) -> Response:
    level = _level_or_404(variant_id)
    form = AdjustStockForm()
    if not form.validate_on_submit():
        return _variant_page(level, form_status(form), adjust_form=form)
    quantity: int = form.quantity.number  # type: ignore[attr-defined]
    reason = form.reason.data
    before = _snapshot(variant_id)
    try:
        with audited(
            "stock.adjust",
            "variant",
            variant_id,
            before={"on_hand": before["on_hand"], "sku": level.sku},
            after=lambda: {
                "on_hand": _snapshot(variant_id)["on_hand"],
                "sku": level.sku,
                "kind": form.kind.data,
                "quantity": quantity,
                "reason": reason,
            },
        ):
            if form.kind.data == MovementKind.RECEIPT:
                inventory.receive(variant_id, quantity, reason=reason, actor_id=current_user.id)
            else:
                adjustments.adjust(variant_id, quantity, reason=reason, actor_id=current_user.id)
    except adjustments.BelowReserved as error:
        db.session.rollback()
        form.quantity.errors = [error.text()]
        return _variant_page(_level_or_404(variant_id), 409, adjust_form=form)
    except inventory.InventoryError as error:
        db.session.rollback()
        form.quantity.errors = [str(error.message)]
        return _variant_page(_level_or_404(variant_id), 422, adjust_form=form)
    flash(
        _("Stock of %(sku)s changed by %(quantity)s.", sku=level.sku, quantity=f"{quantity:+d}"),
        "success",
    )
    return redirect_to(url_for("admin.stock_variant", variant_id=variant_id))


@admin_route("/stock/<int:variant_id>/threshold", Permission.STOCK_WRITE, methods=("POST",))
@form_view
def stock_threshold(variant_id: int) -> Response:
    level = _level_or_404(variant_id)
    form = ThresholdForm()
    if not form.validate_on_submit():
        return _variant_page(level, form_status(form), threshold_form=form)
    threshold = None if form.use_default.data else form.threshold.number  # type: ignore[attr-defined]
    try:
        with audited(
            "stock.threshold",
            "variant",
            variant_id,
            before={"threshold": level.own_threshold, "sku": level.sku},
            after=lambda: {"threshold": threshold, "sku": level.sku},
        ):
            adjustments.set_threshold(variant_id, threshold)
    except inventory.InventoryError as error:
        db.session.rollback()
        form.threshold.errors = [str(error.message)]
        return _variant_page(level, 422, threshold_form=form)
    flash(_("Low-stock threshold of %(sku)s saved.", sku=level.sku), "success")
    return redirect_to(url_for("admin.stock_variant", variant_id=variant_id))
