from flask import Blueprint

bp = Blueprint("invoices", __name__)

from shop.web.invoices import views  # noqa: E402, F401
