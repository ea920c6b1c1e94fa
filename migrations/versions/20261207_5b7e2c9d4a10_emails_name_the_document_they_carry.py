"""E-mails name the invoice or credit note they carry

``email_outbox.invoice_id``: the document whose stored PDF the mailer attaches (a mail
naming one waits until its PDF is rendered). It replaces finding the document by parsing
the mail's own Message-ID. Mails queued before this revision for a paid order or a refund
are linked to their document from that Message-ID (``<order_paid.<event id>@...>``) once,
here, so a pending one still goes out with its PDF.

SQLite cannot add a constraint to an existing table: there the reference (named as on
PostgreSQL) is written inline with the new column, which SQLite allows for a nullable
column.

Revision ID: 5b7e2c9d4a10
Revises: d32870d82af3
Create Date: 2026-12-07 22:30:00.000000

"""
import json

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5b7e2c9d4a10'
down_revision = 'd32870d82af3'
branch_labels = None
depends_on = None

FK = 'fk_email_outbox_invoice_id_invoices'
INDEX = 'ix_email_outbox_invoice_id'


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        op.execute(
            f'ALTER TABLE email_outbox ADD COLUMN invoice_id INTEGER'
            f' CONSTRAINT {FK} REFERENCES invoices (id)'
        )
    else:
        op.add_column('email_outbox', sa.Column('invoice_id', sa.Integer(), nullable=True))
        op.create_foreign_key(FK, 'email_outbox', 'invoices', ['invoice_id'], ['id'])
    op.create_index(INDEX, 'email_outbox', ['invoice_id'])
    _link_existing(bind)


def _link_existing(bind):
    """Mails of ``order_paid`` / ``order_refunded`` events get the document issued for
    the event's order (its invoice) or refund (its credit note)."""
    mails = bind.execute(sa.text(
        "SELECT id, message_id FROM email_outbox"
        " WHERE message_id LIKE '<order_paid.%' OR message_id LIKE '<order_refunded.%'"
    )).all()
    for mail_id, message_id in mails:
        event_type, _, event_id = message_id.strip('<>').split('@', 1)[0].rpartition('.')
        if not event_id.isdigit():
            continue
        payload = bind.execute(
            sa.text("SELECT payload FROM outbox_events WHERE id = :id"), {"id": int(event_id)}
        ).scalar()
        if payload is None:
            continue
        if isinstance(payload, str):
            payload = json.loads(payload)
        if event_type == 'order_paid':
            invoice_id = bind.execute(sa.text(
                "SELECT id FROM invoices WHERE order_id = :ref AND kind = 'invoice'"
            ), {"ref": payload.get('order_id')}).scalar()
        else:
            invoice_id = bind.execute(sa.text(
                "SELECT id FROM invoices WHERE refund_id = :ref"
            ), {"ref": payload.get('refund_id')}).scalar()
        if invoice_id is not None:
            bind.execute(
                sa.text("UPDATE email_outbox SET invoice_id = :invoice WHERE id = :id"),
                {"invoice": invoice_id, "id": mail_id},
            )


def downgrade():
    op.drop_index(INDEX, table_name='email_outbox')
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('PRAGMA foreign_keys=OFF')
        with op.batch_alter_table('email_outbox', recreate='always') as batch_op:
            batch_op.drop_column('invoice_id')
        op.execute('PRAGMA foreign_keys=ON')
    else:
        op.drop_constraint(FK, 'email_outbox', type_='foreignkey')
        op.drop_column('email_outbox', 'invoice_id')
