"""order lines keep the tax rates applied at sale time

Each order line gets the tax components it was charged at (``tax_components``, a JSON
list of {"name_fr", "name_en", "rate_ppm"}), the order the shipping's
(``shipping_tax_components``): checkout writes them, invoices and credit notes print them
and never read ``tax_rates`` again, so a rate changed after a sale leaves its documents as
they were.

Existing orders are filled in the way their invoices were built until now, and marked so
(``tax_rates_backfilled``): a line takes the components of its tax class at the
destination in today's ``tax_rates`` that match one of the order's tax lines, or else the
order's tax line whose rate best explains the line's tax (none for a line without amount);
the shipping likewise, with the ``standard`` class.

Revision ID: d32870d82af3
Revises: 3ca89dd62079
Create Date: 2026-12-07 21:00:00.000000

"""
from collections import defaultdict

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd32870d82af3'
down_revision = '3ca89dd62079'
branch_labels = None
depends_on = None

CHUNK = 500  # orders per round trip

orders = sa.table(
    'orders',
    sa.column('id', sa.Integer),
    sa.column('shipping_address', sa.JSON),
    sa.column('prices_include_tax', sa.Boolean),
    sa.column('shipping_total', sa.Integer),
    sa.column('tax_total', sa.Integer),
    sa.column('shipping_tax_components', sa.JSON),
    sa.column('tax_rates_backfilled', sa.Boolean),
)
order_lines = sa.table(
    'order_lines',
    sa.column('id', sa.Integer),
    sa.column('order_id', sa.Integer),
    sa.column('tax_class', sa.String),
    sa.column('line_total', sa.Integer),
    sa.column('tax_amount', sa.Integer),
    sa.column('tax_components', sa.JSON),
)
order_tax_lines = sa.table(
    'order_tax_lines',
    sa.column('id', sa.Integer),
    sa.column('order_id', sa.Integer),
    sa.column('name_fr', sa.String),
    sa.column('name_en', sa.String),
    sa.column('rate_ppm', sa.Integer),
    sa.column('position', sa.Integer),
)
tax_rates = sa.table(
    'tax_rates',
    sa.column('id', sa.Integer),
    sa.column('country', sa.String),
    sa.column('region', sa.String),
    sa.column('tax_class', sa.String),
    sa.column('name_fr', sa.String),
    sa.column('name_en', sa.String),
    sa.column('rate_ppm', sa.Integer),
    sa.column('position', sa.Integer),
)


def upgrade():
    op.add_column('order_lines', sa.Column(
        'tax_components', sa.JSON(), nullable=False, server_default='[]'))
    op.add_column('orders', sa.Column(
        'shipping_tax_components', sa.JSON(), nullable=False, server_default='[]'))
    op.add_column('orders', sa.Column(
        'tax_rates_backfilled', sa.Boolean(), nullable=False, server_default=sa.false()))
    _backfill(op.get_bind())


def downgrade():
    op.drop_column('orders', 'tax_rates_backfilled')
    op.drop_column('orders', 'shipping_tax_components')
    op.drop_column('order_lines', 'tax_components')


# -- backfill: the invoices' former matching, over plain rows ---------------------------------


def _backfill(connection):
    rates = connection.execute(
        sa.select(
            tax_rates.c.country, tax_rates.c.region, tax_rates.c.tax_class,
            tax_rates.c.name_fr, tax_rates.c.name_en, tax_rates.c.rate_ppm,
        ).order_by(tax_rates.c.position, tax_rates.c.id)
    ).all()
    classes_at = {}
    last_id = 0
    while True:
        chunk = connection.execute(
            sa.select(
                orders.c.id, orders.c.shipping_address, orders.c.prices_include_tax,
                orders.c.shipping_total, orders.c.tax_total,
            ).where(orders.c.id > last_id).order_by(orders.c.id).limit(CHUNK)
        ).all()
        if not chunk:
            return
        last_id = chunk[-1].id
        ids = [order.id for order in chunk]
        lines_of = defaultdict(list)
        for line in connection.execute(
            sa.select(
                order_lines.c.id, order_lines.c.order_id, order_lines.c.tax_class,
                order_lines.c.line_total, order_lines.c.tax_amount,
            ).where(order_lines.c.order_id.in_(ids)).order_by(order_lines.c.id)
        ):
            lines_of[line.order_id].append(line)
        taxes_of = defaultdict(list)
        for tax in connection.execute(
            sa.select(
                order_tax_lines.c.order_id, order_tax_lines.c.name_fr,
                order_tax_lines.c.name_en, order_tax_lines.c.rate_ppm,
            ).where(order_tax_lines.c.order_id.in_(ids))
            .order_by(order_tax_lines.c.position, order_tax_lines.c.id)
        ):
            taxes_of[tax.order_id].append((tax.name_fr, tax.name_en, tax.rate_ppm))
        line_rows, order_rows = [], []
        for order in chunk:
            address = order.shipping_address or {}
            destination = (
                (address.get('country') or '').upper(), (address.get('region') or '').upper()
            )
            if destination not in classes_at:
                classes_at[destination] = _classes(rates, *destination)
            classes = classes_at[destination]
            taxed = taxes_of[order.id]
            lines = lines_of[order.id]
            for line in lines:
                excl = line.line_total - line.tax_amount if order.prices_include_tax \
                    else line.line_total
                line_rows.append({
                    'line_id': line.id,
                    'components': _applied(classes, taxed, line.tax_class, excl, line.tax_amount),
                })
            shipping = []
            if order.shipping_total:
                shipping_tax = order.tax_total - sum(line.tax_amount for line in lines)
                shipping_excl = order.shipping_total - shipping_tax \
                    if order.prices_include_tax else order.shipping_total
                shipping = _applied(classes, taxed, 'standard', shipping_excl, shipping_tax)
            order_rows.append({'order_ref': order.id, 'components': shipping})
        if line_rows:
            connection.execute(
                sa.update(order_lines)
                .where(order_lines.c.id == sa.bindparam('line_id'))
                .values(tax_components=sa.bindparam('components', type_=sa.JSON)),
                line_rows,
            )
        connection.execute(
            sa.update(orders)
            .where(orders.c.id == sa.bindparam('order_ref'))
            .values(
                shipping_tax_components=sa.bindparam('components', type_=sa.JSON),
                tax_rates_backfilled=True,
            ),
            order_rows,
        )


def _classes(rates, country, region):
    """Each tax class's components at the destination (the region's rows when it has any,
    else the country's), in position order; none for a destination without rates."""
    by_region = defaultdict(list)
    for row in rates:
        if row.country == country and row.region in (region, ''):
            by_region[row.region].append(row)
    chosen = (by_region.get(region) if region else None) or by_region.get('') or []
    classes = defaultdict(dict)
    for row in chosen:
        classes[row.tax_class][(row.name_fr, row.name_en, row.rate_ppm)] = None
    return {tax_class: tuple(keys) for tax_class, keys in classes.items()}


def _applied(classes, taxed, tax_class, excl, tax):
    """The class's components that the order was taxed with, else the nearest tax line."""
    matched = [key for key in classes.get(tax_class, ()) if key in taxed]
    return _as_json(matched or _nearest(taxed, excl, tax))


def _nearest(taxed, excl, tax):
    """The order's tax line whose rate best explains ``tax`` on ``excl``."""
    if not taxed or excl <= 0:
        return []
    return [min(taxed, key=lambda key: abs(key[2] * excl - tax * 1_000_000))]


def _as_json(keys):
    return [
        {'name_fr': name_fr, 'name_en': name_en, 'rate_ppm': rate_ppm}
        for name_fr, name_en, rate_ppm in keys
    ]
