"""The catalogue in the back office: products (list, editing in French and English,
publishing), their variants and images, the category tree and tags."""

from shop.web.admin.catalogue import products, taxonomy, variants  # noqa: F401
