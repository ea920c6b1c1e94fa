from flask import Blueprint

bp = Blueprint("payments", __name__)

from shop.web.payments import views  # noqa: E402, F401
