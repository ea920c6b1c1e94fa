"""/media/products/...: public product pictures, cached for a year (their names are hashes).

Only the ``products/`` folder of ``MEDIA_ROOT`` is reachable here; private files (digital
goods, invoices) live in other folders and leave only through signed links.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, send_from_directory
from werkzeug.wrappers import Response

bp = Blueprint("media", __name__)

PUBLIC_FOLDER = "products"
ONE_YEAR = 365 * 24 * 3600


@bp.get(f"/media/{PUBLIC_FOLDER}/<path:filename>")
def product_file(filename: str) -> Response:
    folder = Path(current_app.config["MEDIA_ROOT"]) / PUBLIC_FOLDER
    response = send_from_directory(folder, filename, max_age=ONE_YEAR)
    response.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    return response
