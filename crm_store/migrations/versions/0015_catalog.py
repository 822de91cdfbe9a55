"""catalog: products, order lines, and the customer's external reference and country

Revision ID: 0015_catalog
Revises: 0014_index
Create Date: 2026-12-03 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm_store.types import UtcDateTime

revision = "0015_catalog"
down_revision = "0014_index"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_ref", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("country", sa.String(length=64), server_default="", nullable=False))
        batch_op.create_unique_constraint(batch_op.f("uq_customers_external_ref"), ["external_ref"])
    op.create_table(
        "products",
        sa.Column("id", Id, nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=100), server_default="", nullable=False),
        sa.Column("price_cents", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), server_default="USD", nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        sa.UniqueConstraint("sku", name=op.f("uq_products_sku")),
    )
    op.create_index("ix_products_name", "products", ["name"], unique=False)
    op.create_table(
        "order_lines",
        sa.Column("id", Id, nullable=False),
        sa.Column("order_id", Id, nullable=False),
        sa.Column("product_id", Id, nullable=False),
        sa.Column("customer_id", Id, nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price_cents", sa.BigInteger(), nullable=False),
        sa.Column("line_cents", sa.BigInteger(), nullable=False),
        sa.Column("ordered_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_lines_order_id_orders"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_order_lines_product_id_products"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_order_lines_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_lines")),
    )
    op.create_index("ix_order_lines_order_id", "order_lines", ["order_id"], unique=False)
    op.create_index("ix_order_lines_product_id", "order_lines", ["product_id"], unique=False)
    op.create_index(
        "ix_order_lines_customer_product", "order_lines", ["customer_id", "product_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_order_lines_customer_product", table_name="order_lines")
    op.drop_index("ix_order_lines_product_id", table_name="order_lines")
    op.drop_index("ix_order_lines_order_id", table_name="order_lines")
    op.drop_table("order_lines")
    op.drop_index("ix_products_name", table_name="products")
    op.drop_table("products")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_customers_external_ref"), type_="unique")
        batch_op.drop_column("country")
        batch_op.drop_column("external_ref")
