"""SEO metadata per product, category and tag

Tags get a meta title and description per language, like products and categories already
have. Every translation gets a canonical address override (empty: the page itself), and
every product, category and tag a noindex switch and an Open Graph image, one of the shop's
product images (SET NULL when that image is deleted).

The ``og_image_id`` references close cycles (a product image belongs to a product, which
belongs to a category), so they are added after the tables exist. SQLite cannot add a
constraint to an existing table: there the reference (named as on PostgreSQL) is written
inline with the new column, which SQLite allows for a nullable column.

Revision ID: 3ca89dd62079
Revises: acf0031ccbf7
Create Date: 2026-12-07 19:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3ca89dd62079'
down_revision = 'acf0031ccbf7'
branch_labels = None
depends_on = None

ITEMS = ('products', 'categories', 'tags')
TRANSLATIONS = ('product_translations', 'category_translations', 'tag_translations')


def _fk_name(table):
    return f'fk_{table}_og_image_id_product_images'


def upgrade():
    for table in TRANSLATIONS:
        op.add_column(table, sa.Column(
            'canonical_url', sa.String(length=500), nullable=False, server_default=''))
    op.add_column('tag_translations', sa.Column(
        'meta_title', sa.String(length=160), nullable=False, server_default=''))
    op.add_column('tag_translations', sa.Column(
        'meta_description', sa.String(length=320), nullable=False, server_default=''))
    sqlite = op.get_bind().dialect.name == 'sqlite'
    for table in ITEMS:
        op.add_column(table, sa.Column(
            'noindex', sa.Boolean(), nullable=False, server_default=sa.false()))
        if sqlite:
            op.execute(
                f'ALTER TABLE {table} ADD COLUMN og_image_id INTEGER'
                f' CONSTRAINT {_fk_name(table)}'
                ' REFERENCES product_images (id) ON DELETE SET NULL'
            )
        else:
            op.add_column(table, sa.Column('og_image_id', sa.Integer(), nullable=True))
            op.create_foreign_key(
                _fk_name(table), table, 'product_images', ['og_image_id'], ['id'],
                ondelete='SET NULL',
            )


def downgrade():
    sqlite = op.get_bind().dialect.name == 'sqlite'
    for table in ITEMS:
        if sqlite:
            # A column inside a foreign key can only leave by copying the table; a copy
            # must not cascade the old table's deletion to its translations.
            op.execute('PRAGMA foreign_keys=OFF')
            with op.batch_alter_table(table, recreate='always') as batch_op:
                batch_op.drop_column('og_image_id')
                batch_op.drop_column('noindex')
            op.execute('PRAGMA foreign_keys=ON')
        else:
            op.drop_constraint(_fk_name(table), table, type_='foreignkey')
            op.drop_column(table, 'og_image_id')
            op.drop_column(table, 'noindex')
    op.drop_column('tag_translations', 'meta_description')
    op.drop_column('tag_translations', 'meta_title')
    for table in TRANSLATIONS:
        op.drop_column(table, 'canonical_url')
