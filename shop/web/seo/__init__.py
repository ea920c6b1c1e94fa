from flask import Blueprint

bp = Blueprint("seo", __name__)

from shop.web.seo import views  # noqa: E402, F401
