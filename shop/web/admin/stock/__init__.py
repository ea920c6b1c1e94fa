"""Stock in the back office: levels, low stock, the movement ledger, current holds, and the
corrections and thresholds of one variant."""

from shop.web.admin.stock import views  # noqa: F401
