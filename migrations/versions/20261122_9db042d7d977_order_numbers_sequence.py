"""order numbers from a sequence on PostgreSQL

Placing an order took a row lock on its year's counter (order_number_sequences) until the
order committed, so concurrent checkouts queued behind each other. PostgreSQL now draws
order numbers from the sequence order_numbers, started above every number given so
far (CMD-<year>-<value>: unique, increasing, with gaps). SQLite keeps the counters.

Revision ID: 9db042d7d977
Revises: 4e93bde06193
Create Date: 2026-11-22 04:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9db042d7d977'
down_revision = '4e93bde06193'
branch_labels = None
depends_on = None


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    start = bind.execute(
        sa.text("SELECT coalesce(max(last_value), 0) + 1 FROM order_number_sequences")
    ).scalar_one()
    op.execute(sa.schema.CreateSequence(sa.Sequence("order_numbers", start=start)))


def downgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    # The counters carry on above the numbers the sequence gave, year by year.
    op.execute(
        """
        INSERT INTO order_number_sequences (year, last_value)
        SELECT split_part(number, '-', 2)::int, max(split_part(number, '-', 3)::int)
        FROM orders WHERE number ~ '^CMD-[0-9]+-[0-9]+$'
        GROUP BY 1
        ON CONFLICT (year) DO UPDATE
        SET last_value = greatest(order_number_sequences.last_value, excluded.last_value)
        """
    )
    op.execute(sa.schema.DropSequence(sa.Sequence("order_numbers")))
