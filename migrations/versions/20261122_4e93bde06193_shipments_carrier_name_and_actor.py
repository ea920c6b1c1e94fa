"""shipments: carrier name and actor

``carrier_name`` is the carrier as the customer was told, in the order's language ("Postes
Canada", or a tracking site's host for another carrier; empty for rows written before);
``actor_id`` is the staff member who recorded the parcel (SET NULL if the account goes).

Revision ID: 4e93bde06193
Revises: 40f5115f32bf
Create Date: 2026-11-22 03:27:53.705515

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '4e93bde06193'
down_revision = '40f5115f32bf'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('carrier_name', sa.String(length=80), server_default='', nullable=False))
        batch_op.add_column(sa.Column('actor_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_shipments_actor_id_users'), 'users', ['actor_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('shipments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_shipments_actor_id_users'), type_='foreignkey')
        batch_op.drop_column('actor_id')
        batch_op.drop_column('carrier_name')
