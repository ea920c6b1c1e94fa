from flask import Blueprint

bp = Blueprint("account", __name__)

from shop.web.account import orders, unsubscribe, views  # noqa: E402, F401
