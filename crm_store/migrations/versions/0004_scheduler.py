"""scheduler: loyalty scores, digest subscriptions, SLA columns on tickets

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crm_store.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _ts(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, crm_store.types.UtcDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(_ts("sla_first_warned_at"))
        batch_op.add_column(_ts("sla_resolve_warned_at"))
        batch_op.add_column(_ts("breached_at"))
        batch_op.add_column(sa.Column("breach_kind", sa.String(length=16), nullable=True))

    op.create_table(
        "loyalty_scores",
        sa.Column("run_date", sa.String(length=10), nullable=False),
        sa.Column("customer_id", _ID, nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("churn_risk", sa.Float(), nullable=False),
        sa.Column("recency_days", sa.Integer(), nullable=True),
        sa.Column("order_count", sa.Integer(), nullable=False),
        sa.Column("revenue_cents", sa.BigInteger(), nullable=False),
        sa.Column("sentiment", sa.Float(), nullable=True),
        sa.Column("negatives", sa.Integer(), nullable=False),
        sa.Column("csat", sa.Float(), nullable=True),
        sa.Column("open_tickets", sa.Integer(), nullable=False),
        sa.Column("breached_tickets", sa.Integer(), nullable=False),
        _ts("computed_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_loyalty_scores_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_date", "customer_id", name=op.f("pk_loyalty_scores")),
    )
    with op.batch_alter_table("loyalty_scores", schema=None) as batch_op:
        batch_op.create_index("ix_loyalty_scores_customer", ["customer_id", "run_date"], unique=False)

    op.create_table(
        "digest_subscriptions",
        sa.Column("id", _ID, nullable=False),
        sa.Column("rep_id", _ID, nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("cadence", sa.String(length=8), nullable=False),
        sa.Column("local_time", sa.String(length=5), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("last_period", sa.String(length=16), nullable=True),
        _ts("created_at", nullable=False),
        sa.CheckConstraint("cadence IN ('daily', 'weekly')", name=op.f("ck_digest_subscriptions_cadence")),
        sa.ForeignKeyConstraint(
            ["rep_id"], ["reps.id"], name=op.f("fk_digest_subscriptions_rep_id_reps"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_digest_subscriptions")),
        sa.UniqueConstraint("platform", "target", name=op.f("uq_digest_subscriptions_platform_target")),
    )


def downgrade() -> None:
    op.drop_table("digest_subscriptions")
    with op.batch_alter_table("loyalty_scores", schema=None) as batch_op:
        batch_op.drop_index("ix_loyalty_scores_customer")
    op.drop_table("loyalty_scores")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("breach_kind")
        batch_op.drop_column("breached_at")
        batch_op.drop_column("sla_resolve_warned_at")
        batch_op.drop_column("sla_first_warned_at")
