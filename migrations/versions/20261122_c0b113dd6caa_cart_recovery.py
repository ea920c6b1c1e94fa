"""cart recovery: reminder steps, recovery tokens (hash only), suppression list

Carts get ``abandoned_at``, ``recovery_step`` and ``recovery_consent_at``; a customer's one
open cart may now be active or abandoned (the partial unique index widens to both); cart
events may be "recovered"; orders get an index on (email, placed_at) for "ordered since?".

Revision ID: c0b113dd6caa
Revises: 2f43fcbd828a
Create Date: 2026-11-22 03:10:20.553642

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c0b113dd6caa'
down_revision = '2f43fcbd828a'
branch_labels = None
depends_on = None

OPEN = "status IN ('active', 'abandoned')"
ACTIVE = "status = 'active'"
KINDS = "('added', 'updated', 'removed', 'checkout_started', 'merged'"


def upgrade():
    op.create_table('email_suppressions',
    sa.Column('address_hash', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('address_hash', name=op.f('pk_email_suppressions'))
    )
    op.create_table('cart_recovery_emails',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cart_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('to_address', sa.String(length=254), nullable=False),
    sa.Column('email_id', sa.Integer(), nullable=True),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('step >= 1', name=op.f('ck_cart_recovery_emails_step_positive')),
    sa.ForeignKeyConstraint(['cart_id'], ['carts.id'], name=op.f('fk_cart_recovery_emails_cart_id_carts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['email_id'], ['email_outbox.id'], name=op.f('fk_cart_recovery_emails_email_id_email_outbox'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cart_recovery_emails')),
    sa.UniqueConstraint('cart_id', 'step', name=op.f('uq_cart_recovery_emails_cart_id'))
    )
    op.create_table('cart_recovery_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cart_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('step', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['cart_id'], ['carts.id'], name=op.f('fk_cart_recovery_tokens_cart_id_carts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cart_recovery_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_cart_recovery_tokens_token_hash'))
    )
    with op.batch_alter_table('cart_recovery_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cart_recovery_tokens_cart_id'), ['cart_id'], unique=False)

    with op.batch_alter_table('carts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('abandoned_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('recovery_step', sa.Integer(), server_default=sa.text('0'), nullable=False))
        batch_op.add_column(sa.Column('recovery_consent_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_index('uq_carts_active_customer')
        batch_op.create_index('uq_carts_open_customer', ['customer_id'], unique=True, postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))

    with op.batch_alter_table('cart_events', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_cart_events_kind_known'), type_='check')
        batch_op.create_check_constraint('kind_known', sa.text(f"kind IN {KINDS}, 'recovered')"))

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index('ix_orders_email_placed', ['email', 'placed_at'], unique=False)


def downgrade():
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_email_placed')

    op.execute("DELETE FROM cart_events WHERE kind = 'recovered'")
    with op.batch_alter_table('cart_events', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_cart_events_kind_known'), type_='check')
        batch_op.create_check_constraint('kind_known', sa.text(f"kind IN {KINDS})"))

    # An abandoned cart is an active one to the code before this revision.
    op.execute("UPDATE carts SET status = 'active' WHERE status = 'abandoned'")
    with op.batch_alter_table('carts', schema=None) as batch_op:
        batch_op.drop_index('uq_carts_open_customer')
        batch_op.create_index('uq_carts_active_customer', ['customer_id'], unique=True, postgresql_where=sa.text(ACTIVE), sqlite_where=sa.text(ACTIVE))
        batch_op.drop_column('recovery_consent_at')
        batch_op.drop_column('recovery_step')
        batch_op.drop_column('abandoned_at')

    with op.batch_alter_table('cart_recovery_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cart_recovery_tokens_cart_id'))

    op.drop_table('cart_recovery_tokens')
    op.drop_table('cart_recovery_emails')
    op.drop_table('email_suppressions')
