"""groups: company group chats (chat_groups), group tickets' chat and message, who wrote, invite purpose

Revision ID: 0020_groups
Revises: 0019_campaigns
Create Date: 2026-12-03 17:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm_store.types import UtcDateTime

revision = "0020_groups"
down_revision = "0019_campaigns"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "chat_groups",
        sa.Column("id", Id, nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("chat_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", Id, nullable=True),
        sa.Column("linked_by", sa.String(length=96), nullable=True),
        sa.Column("linked_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("unlinked_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("hinted_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_chat_groups_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_groups")),
        sa.UniqueConstraint("platform", "chat_id", name=op.f("uq_chat_groups_platform_chat_id")),
    )
    op.create_index("ix_chat_groups_customer", "chat_groups", ["customer_id"], unique=False)
    with op.batch_alter_table("link_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purpose", sa.String(length=8), server_default="chat", nullable=False))
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chat_group_id", Id, nullable=True))
        batch_op.add_column(sa.Column("group_message_id", sa.String(length=64), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_tickets_chat_group_id_chat_groups"),
            "chat_groups",
            ["chat_group_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("ticket_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("author_customer_id", Id, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_ticket_messages_author_customer_id_customers"),
            "customers",
            ["author_customer_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("ticket_messages", schema=None) as batch_op:
        batch_op.drop_constraint("fk_ticket_messages_author_customer_id_customers", type_="foreignkey")
        batch_op.drop_column("author_customer_id")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_constraint("fk_tickets_chat_group_id_chat_groups", type_="foreignkey")
        batch_op.drop_column("group_message_id")
        batch_op.drop_column("chat_group_id")
    with op.batch_alter_table("link_tokens", schema=None) as batch_op:
        batch_op.drop_column("purpose")
    op.drop_index("ix_chat_groups_customer", table_name="chat_groups")
    op.drop_table("chat_groups")
