"""forecast: per-customer forecasts of each run (expected orders, revenue, p_active)

Revision ID: 0018_forecast
Revises: 0016_segments
Create Date: 2026-12-03 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm_store.types import UtcDateTime

revision = "0018_forecast"
down_revision = "0016_segments"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "customer_forecasts",
        sa.Column("run_date", sa.String(length=10), nullable=False),
        sa.Column("customer_id", Id, nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("expected_orders", sa.Float(), nullable=False),
        sa.Column("expected_revenue_cents", sa.BigInteger(), nullable=False),
        sa.Column("p_active", sa.Float(), nullable=False),
        sa.Column("model", sa.String(length=16), nullable=False),
        sa.Column("computed_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_forecasts_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_date", "customer_id", name=op.f("pk_customer_forecasts")),
    )
    op.create_index(
        "ix_customer_forecasts_customer", "customer_forecasts", ["customer_id", "run_date"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_customer_forecasts_customer", table_name="customer_forecasts")
    op.drop_table("customer_forecasts")
