"""catalogue and inventory

Revision ID: 492a06f2a202
Revises: d42e506f7e0d
Create Date: 2026-11-22 00:56:54.102184

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


# revision identifiers, used by Alembic.
revision = '492a06f2a202'
down_revision = 'd42e506f7e0d'
branch_labels = None
depends_on = None


SEARCH_CONFIGS = (("fr_unaccent", "french"), ("en_unaccent", "english"))

# Title weighs A, description (tags stripped) B, in the accent-insensitive config of the row's
# locale; kept by a trigger so bulk loads and every writer get it.
SEARCH_TRIGGER = """
CREATE FUNCTION product_translations_search_vector() RETURNS trigger AS $$
DECLARE
  config regconfig := CASE WHEN NEW.locale = 'fr' THEN 'fr_unaccent'::regconfig
                           ELSE 'en_unaccent'::regconfig END;
BEGIN
  NEW.search_vector :=
    setweight(to_tsvector(config, coalesce(NEW.title, '')), 'A') ||
    setweight(to_tsvector(config,
      coalesce(regexp_replace(NEW.description, '<[^>]+>', ' ', 'g'), '')), 'B');
  RETURN NEW;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER product_translations_search_vector
  BEFORE INSERT OR UPDATE OF title, description, locale ON product_translations
  FOR EACH ROW EXECUTE FUNCTION product_translations_search_vector();
"""


def upgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
        for name, base in SEARCH_CONFIGS:
            op.execute(f"CREATE TEXT SEARCH CONFIGURATION {name} (COPY = {base})")
            op.execute(
                f"ALTER TEXT SEARCH CONFIGURATION {name} ALTER MAPPING FOR hword, hword_part, word "
                f"WITH unaccent, {base}_stem"
            )
    op.create_table('categories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('featured', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['categories.id'], name=op.f('fk_categories_parent_id_categories'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_categories'))
    )
    with op.batch_alter_table('categories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_categories_parent_id'), ['parent_id'], unique=False)

    op.create_table('tags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tags'))
    )
    op.create_table('url_redirects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('old_path', sa.String(length=300), nullable=False),
    sa.Column('new_path', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_url_redirects')),
    sa.UniqueConstraint('old_path', name=op.f('uq_url_redirects_old_path'))
    )
    op.create_table('category_translations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('locale', sa.String(length=5), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('slug', sa.String(length=140), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('meta_title', sa.String(length=160), nullable=False),
    sa.Column('meta_description', sa.String(length=320), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_category_translations_category_id_categories'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_category_translations')),
    sa.UniqueConstraint('category_id', 'locale', name=op.f('uq_category_translations_category_id')),
    sa.UniqueConstraint('locale', 'slug', name=op.f('uq_category_translations_locale'))
    )
    op.create_table('products',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('tax_class', sa.String(length=16), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('featured', sa.Boolean(), nullable=False),
    sa.Column('min_price', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("kind IN ('physical', 'digital', 'service')", name=op.f('ck_products_kind_known')),
    sa.CheckConstraint("status IN ('draft', 'active', 'archived')", name=op.f('ck_products_status_known')),
    sa.CheckConstraint("tax_class IN ('standard', 'reduced', 'super_reduced', 'zero')", name=op.f('ck_products_tax_class_known')),
    sa.ForeignKeyConstraint(['category_id'], ['categories.id'], name=op.f('fk_products_category_id_categories'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_products'))
    )
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.create_index('ix_products_listing', ['status', 'category_id', 'published_at'], unique=False)

    op.create_table('tag_translations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.Column('locale', sa.String(length=5), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('slug', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], name=op.f('fk_tag_translations_tag_id_tags'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tag_translations')),
    sa.UniqueConstraint('locale', 'slug', name=op.f('uq_tag_translations_locale')),
    sa.UniqueConstraint('tag_id', 'locale', name=op.f('uq_tag_translations_tag_id'))
    )
    op.create_table('product_images',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=255), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('alt_fr', sa.String(length=200), nullable=False),
    sa.Column('alt_en', sa.String(length=200), nullable=False),
    sa.Column('renditions', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_product_images_product_id_products'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_images'))
    )
    with op.batch_alter_table('product_images', schema=None) as batch_op:
        batch_op.create_index('ix_product_images_product_position', ['product_id', 'position'], unique=False)

    op.create_table('product_tags',
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_product_tags_product_id_products'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['tags.id'], name=op.f('fk_product_tags_tag_id_tags'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('product_id', 'tag_id', name=op.f('pk_product_tags'))
    )
    with op.batch_alter_table('product_tags', schema=None) as batch_op:
        batch_op.create_index('ix_product_tags_tag_id', ['tag_id', 'product_id'], unique=False)

    op.create_table('product_translations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('locale', sa.String(length=5), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('slug', sa.String(length=220), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('meta_title', sa.String(length=160), nullable=False),
    sa.Column('meta_description', sa.String(length=320), nullable=False),
    sa.Column('search_vector', postgresql.TSVECTOR().with_variant(sa.Text(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_product_translations_product_id_products'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_translations')),
    sa.UniqueConstraint('locale', 'slug', name=op.f('uq_product_translations_locale')),
    sa.UniqueConstraint('product_id', 'locale', name=op.f('uq_product_translations_product_id'))
    )
    with op.batch_alter_table('product_translations', schema=None) as batch_op:
        batch_op.create_index('ix_product_translations_search', ['search_vector'], unique=False, postgresql_using='gin')

    op.create_table('product_variants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('barcode', sa.String(length=32), nullable=True),
    sa.Column('price', sa.Integer(), nullable=False),
    sa.Column('compare_at_price', sa.Integer(), nullable=True),
    sa.Column('lowest_prior_price', sa.Integer(), nullable=True),
    sa.Column('price_since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('track_inventory', sa.Boolean(), nullable=False),
    sa.Column('weight_grams', sa.Integer(), nullable=True),
    sa.CheckConstraint('compare_at_price IS NULL OR compare_at_price > price', name=op.f('ck_product_variants_compare_at_above_price')),
    sa.CheckConstraint('price >= 0', name=op.f('ck_product_variants_price_not_negative')),
    sa.ForeignKeyConstraint(['product_id'], ['products.id'], name=op.f('fk_product_variants_product_id_products'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product_variants')),
    sa.UniqueConstraint('sku', name=op.f('uq_product_variants_sku'))
    )
    with op.batch_alter_table('product_variants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_product_variants_product_id'), ['product_id'], unique=False)

    op.create_table('inventory_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('variant_id', sa.Integer(), nullable=False),
    sa.Column('on_hand', sa.Integer(), nullable=False),
    sa.Column('reserved', sa.Integer(), nullable=False),
    sa.Column('low_stock_threshold', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('on_hand >= 0', name=op.f('ck_inventory_items_on_hand_not_negative')),
    sa.CheckConstraint('reserved >= 0 AND reserved <= on_hand', name=op.f('ck_inventory_items_reserved_within_on_hand')),
    sa.ForeignKeyConstraint(['variant_id'], ['product_variants.id'], name=op.f('fk_inventory_items_variant_id_product_variants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inventory_items')),
    sa.UniqueConstraint('variant_id', name=op.f('uq_inventory_items_variant_id'))
    )
    op.create_table('inventory_movements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('variant_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=255), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('receipt', 'sale', 'return', 'adjustment')", name=op.f('ck_inventory_movements_kind_known')),
    sa.CheckConstraint('quantity <> 0', name=op.f('ck_inventory_movements_quantity_not_zero')),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_inventory_movements_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['variant_id'], ['product_variants.id'], name=op.f('fk_inventory_movements_variant_id_product_variants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inventory_movements'))
    )
    with op.batch_alter_table('inventory_movements', schema=None) as batch_op:
        batch_op.create_index('ix_inventory_movements_variant_created', ['variant_id', 'created_at'], unique=False)

    op.create_table('price_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('variant_id', sa.Integer(), nullable=False),
    sa.Column('price', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['variant_id'], ['product_variants.id'], name=op.f('fk_price_history_variant_id_product_variants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_price_history'))
    )
    with op.batch_alter_table('price_history', schema=None) as batch_op:
        batch_op.create_index('ix_price_history_variant_started', ['variant_id', 'started_at'], unique=False)
    if postgres:
        op.execute(SEARCH_TRIGGER)


def downgrade():
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("DROP TRIGGER IF EXISTS product_translations_search_vector ON product_translations")
        op.execute("DROP FUNCTION IF EXISTS product_translations_search_vector()")
    with op.batch_alter_table('price_history', schema=None) as batch_op:
        batch_op.drop_index('ix_price_history_variant_started')

    op.drop_table('price_history')
    with op.batch_alter_table('inventory_movements', schema=None) as batch_op:
        batch_op.drop_index('ix_inventory_movements_variant_created')

    op.drop_table('inventory_movements')
    op.drop_table('inventory_items')
    with op.batch_alter_table('product_variants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_product_variants_product_id'))

    op.drop_table('product_variants')
    with op.batch_alter_table('product_translations', schema=None) as batch_op:
        batch_op.drop_index('ix_product_translations_search', postgresql_using='gin')

    op.drop_table('product_translations')
    with op.batch_alter_table('product_tags', schema=None) as batch_op:
        batch_op.drop_index('ix_product_tags_tag_id')

    op.drop_table('product_tags')
    with op.batch_alter_table('product_images', schema=None) as batch_op:
        batch_op.drop_index('ix_product_images_product_position')

    op.drop_table('product_images')
    op.drop_table('tag_translations')
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_index('ix_products_listing')

    op.drop_table('products')
    op.drop_table('category_translations')
    op.drop_table('url_redirects')
    op.drop_table('tags')
    with op.batch_alter_table('categories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_categories_parent_id'))

    op.drop_table('categories')
    if postgres:
        for name, _ in SEARCH_CONFIGS:
            op.execute(f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {name}")
