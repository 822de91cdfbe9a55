"""loyalty alerts raised, for the manager digest

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crm_store.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "loyalty_alerts",
        sa.Column("customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_date", sa.String(length=10), nullable=False),
        sa.Column("previous_score", sa.Float(), nullable=True),
        sa.Column("raised_at", crm_store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_loyalty_alerts_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", "run_date", name=op.f("pk_loyalty_alerts")),
    )
    with op.batch_alter_table("loyalty_alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_loyalty_alerts_raised_at"), ["raised_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("loyalty_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_loyalty_alerts_raised_at"))
    op.drop_table("loyalty_alerts")
