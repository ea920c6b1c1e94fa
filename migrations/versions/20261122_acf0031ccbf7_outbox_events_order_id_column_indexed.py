"""outbox events: order id column, indexed

An order's page listed its events by reading every outbox payload (payload->>'order_id'):
a scan of the whole table. The order id is now a column, written by emit() and indexed;
existing events get it from their payload.

Revision ID: acf0031ccbf7
Revises: 9db042d7d977
Create Date: 2026-11-22 06:30:46.155109

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'acf0031ccbf7'
down_revision = '9db042d7d977'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('order_id', sa.Integer(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE outbox_events SET order_id = (payload->>'order_id')::integer"
            " WHERE payload->>'order_id' ~ '^[0-9]{1,9}$'"
        )
    else:
        op.execute(
            "UPDATE outbox_events SET order_id = CAST(json_extract(payload, '$.order_id') AS INTEGER)"
            " WHERE json_type(payload, '$.order_id') = 'integer'"
        )
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_events_order_id', ['order_id'], unique=False)


def downgrade():
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_events_order_id')
        batch_op.drop_column('order_id')
