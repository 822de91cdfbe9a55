"""segments: named customer segments and each customer's segment

Revision ID: 0016_segments
Revises: 0015_catalog
Create Date: 2026-12-03 14:05:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm_store.types import UtcDateTime

revision = "0016_segments"
down_revision = "0015_catalog"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "segments",
        sa.Column("id", Id, nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=300), server_default="", nullable=False),
        sa.Column("size", sa.Integer(), server_default="0", nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("computed_at", UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint("slug", name=op.f("uq_segments_slug")),
    )
    op.create_table(
        "customer_segments",
        sa.Column("customer_id", Id, nullable=False),
        sa.Column("segment_id", Id, nullable=False),
        sa.Column("previous_segment_id", Id, nullable=True),
        sa.Column("moved_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_segments_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["segment_id"],
            ["segments.id"],
            name=op.f("fk_customer_segments_segment_id_segments"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["previous_segment_id"],
            ["segments.id"],
            name=op.f("fk_customer_segments_previous_segment_id_segments"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_segments")),
    )
    op.create_index(
        "ix_customer_segments_segment", "customer_segments", ["segment_id", "customer_id"], unique=False
    )
    op.create_index("ix_customer_segments_moved", "customer_segments", ["moved_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_customer_segments_moved", table_name="customer_segments")
    op.drop_index("ix_customer_segments_segment", table_name="customer_segments")
    op.drop_table("customer_segments")
    op.drop_table("segments")
