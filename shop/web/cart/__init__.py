from flask import Blueprint

bp = Blueprint("cart", __name__)

from shop.web.cart import recover, views  # noqa: E402, F401
