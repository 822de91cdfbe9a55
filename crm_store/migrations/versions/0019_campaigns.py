"""campaigns: campaigns and their recipients, consent events, quiet hours, blocked chats, outbox priority

Revision ID: 0019_campaigns
Revises: 0018_forecast
Create Date: 2026-12-03 17:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm_store.types import UtcDateTime

revision = "0019_campaigns"
down_revision = "0018_forecast"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quiet_hours", sa.String(length=11), nullable=True))
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("blocked_at", UtcDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.Integer(), server_default="1", nullable=False))
        batch_op.create_index(
            "ix_outbox_due_priority", ["state", "priority", "next_attempt_at"], unique=False
        )
    op.create_table(
        "campaigns",
        sa.Column("id", Id, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("audience", sa.Text(), server_default="", nullable=False),
        sa.Column("body", sa.Text(), server_default="", nullable=False),
        sa.Column("button_kind", sa.String(length=8), nullable=True),
        sa.Column("button_text", sa.String(length=64), nullable=True),
        sa.Column("button_url", sa.String(length=500), nullable=True),
        sa.Column("control_pct", sa.Integer(), server_default="0", nullable=False),
        sa.Column("state", sa.String(length=12), server_default="draft", nullable=False),
        sa.Column("created_by_rep_id", Id, nullable=True),
        sa.Column("send_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("started_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "state IN ('draft', 'scheduled', 'sending', 'sent', 'cancelled')",
            name=op.f("ck_campaigns_state"),
        ),
        sa.CheckConstraint(
            "control_pct >= 0 AND control_pct <= 50", name=op.f("ck_campaigns_control_pct")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_rep_id"],
            ["reps.id"],
            name=op.f("fk_campaigns_created_by_rep_id_reps"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_index("ix_campaigns_state_send_at", "campaigns", ["state", "send_at"], unique=False)
    op.create_table(
        "campaign_recipients",
        sa.Column("campaign_id", Id, nullable=False),
        sa.Column("customer_id", Id, nullable=False),
        sa.Column("arm", sa.String(length=8), server_default="send", nullable=False),
        sa.Column("state", sa.String(length=12), server_default="pending", nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("not_before", UtcDateTime(timezone=True), nullable=True),
        sa.Column("outbox_key", sa.String(length=200), nullable=True),
        sa.Column("queued_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("message_id", sa.String(length=64), nullable=True),
        sa.CheckConstraint("arm IN ('send', 'control')", name=op.f("ck_campaign_recipients_arm")),
        sa.CheckConstraint(
            "state IN ('pending', 'queued', 'sent', 'failed', 'skipped', 'cancelled')",
            name=op.f("ck_campaign_recipients_state"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_recipients_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_campaign_recipients_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "customer_id", name=op.f("pk_campaign_recipients")),
    )
    op.create_index(
        "ix_campaign_recipients_state",
        "campaign_recipients",
        ["campaign_id", "state", "not_before"],
        unique=False,
    )
    op.create_index(
        "ix_campaign_recipients_customer", "campaign_recipients", ["customer_id"], unique=False
    )
    op.create_table(
        "customer_consents",
        sa.Column("id", Id, nullable=False),
        sa.Column("customer_id", Id, nullable=False),
        sa.Column("topic", sa.String(length=16), server_default="marketing", nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("campaign_id", Id, nullable=True),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "state IN ('stopped', 'subscribed')", name=op.f("ck_customer_consents_state")
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_customer_consents_campaign_id_campaigns"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_consents_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_consents")),
    )
    op.create_index(
        "ix_customer_consents_customer",
        "customer_consents",
        ["customer_id", "topic", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_customer_consents_customer", table_name="customer_consents")
    op.drop_table("customer_consents")
    op.drop_index("ix_campaign_recipients_customer", table_name="campaign_recipients")
    op.drop_index("ix_campaign_recipients_state", table_name="campaign_recipients")
    op.drop_table("campaign_recipients")
    op.drop_index("ix_campaigns_state_send_at", table_name="campaigns")
    op.drop_table("campaigns")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_due_priority")
        batch_op.drop_column("priority")
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.drop_column("blocked_at")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("quiet_hours")
