"""outbox, outbox threads and link tokens

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crm_store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("thread", sa.String(length=64), nullable=True),
        sa.Column("thread_key", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=8), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", crm_store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", crm_store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("sent_message_id", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", crm_store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", crm_store.types.UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('pending', 'sending', 'sent', 'failed')", name=op.f("ck_outbox_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_outbox_idempotency_key")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_chat", ["platform", "target", "state"], unique=False)
        batch_op.create_index("ix_outbox_state_next", ["state", "next_attempt_at"], unique=False)

    op.create_table(
        "outbox_threads",
        sa.Column("thread_key", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("thread_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", crm_store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("thread_key", "platform", name=op.f("pk_outbox_threads")),
    )
    with op.batch_alter_table("outbox_threads", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_threads_message", ["platform", "target", "thread_id"], unique=False)

    op.create_table(
        "link_tokens",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_by", sa.String(length=96), server_default="", nullable=False),
        sa.Column("created_at", crm_store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", crm_store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("used_at", crm_store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("used_by", sa.String(length=96), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_link_tokens_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_link_tokens_token_hash")),
    )
    with op.batch_alter_table("link_tokens", schema=None) as batch_op:
        batch_op.create_index("ix_link_tokens_customer", ["customer_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("link_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_link_tokens_customer")

    op.drop_table("link_tokens")
    with op.batch_alter_table("outbox_threads", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_threads_message")

    op.drop_table("outbox_threads")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_state_next")
        batch_op.drop_index("ix_outbox_chat")

    op.drop_table("outbox")
