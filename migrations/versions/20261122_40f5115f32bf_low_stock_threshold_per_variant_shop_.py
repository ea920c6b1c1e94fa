"""low-stock threshold per variant, shop default when null

``inventory_items.low_stock_threshold`` becomes nullable: NULL means "the shop default"
(``LOW_STOCK_THRESHOLD``, 3 unless set), a number is the variant's own threshold, never
negative. Until now nothing could set the column, so every existing 3 was the old built-in
default: those become NULL and follow the setting from now on.

Revision ID: 40f5115f32bf
Revises: df4f1f9f1d6b
Create Date: 2026-11-22 03:19:12.034428

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '40f5115f32bf'
down_revision = 'df4f1f9f1d6b'
branch_labels = None
depends_on = None

OLD_DEFAULT = 3


def upgrade():
    with op.batch_alter_table('inventory_items', schema=None) as batch_op:
        batch_op.alter_column('low_stock_threshold',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.create_check_constraint(
            'low_stock_threshold_not_negative',
            'low_stock_threshold IS NULL OR low_stock_threshold >= 0',
        )
    op.execute(
        f"UPDATE inventory_items SET low_stock_threshold = NULL "
        f"WHERE low_stock_threshold = {OLD_DEFAULT}"
    )


def downgrade():
    op.execute(
        f"UPDATE inventory_items SET low_stock_threshold = {OLD_DEFAULT} "
        f"WHERE low_stock_threshold IS NULL"
    )
    with op.batch_alter_table('inventory_items', schema=None) as batch_op:
        batch_op.drop_constraint('low_stock_threshold_not_negative', type_='check')
        batch_op.alter_column('low_stock_threshold',
               existing_type=sa.INTEGER(),
               nullable=False)
