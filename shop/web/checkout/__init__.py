from flask import Blueprint

bp = Blueprint("checkout", __name__)

from shop.web.checkout import views  # noqa: E402, F401
