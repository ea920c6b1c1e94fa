"""Orders in the back office: the list and its CSV export, one order with its timeline and
the moves staff make; the staff-facing names of states the order and stock pages show."""

from shop.web.admin.orders import export, labels, views  # noqa: F401
