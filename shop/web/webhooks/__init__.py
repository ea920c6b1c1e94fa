from flask import Blueprint

bp = Blueprint("webhooks", __name__)

from shop.web.webhooks import views  # noqa: E402, F401
