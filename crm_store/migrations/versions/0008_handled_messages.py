"""handled messages: a handler run's writes claimed once per incoming message

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crm_store.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "handled_messages",
        sa.Column("ref", sa.String(length=96), nullable=False),
        sa.Column("actor_key", sa.String(length=96), nullable=False),
        sa.Column("reply", sa.JSON(), nullable=True),
        sa.Column("handled_at", crm_store.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ref", name=op.f("pk_handled_messages")),
    )
    with op.batch_alter_table("handled_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_handled_messages_handled_at"), ["handled_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("handled_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handled_messages_handled_at"))
    op.drop_table("handled_messages")
