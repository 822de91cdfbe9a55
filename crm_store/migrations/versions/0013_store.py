"""indexes for the busiest lists: open tickets newest first, a customer's reminders

Revision ID: 0013_store
Revises: 0012_telegram_dedupe
Create Date: 2026-12-03 11:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0013_store"
down_revision = "0012_telegram_dedupe"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # `tickets` lists the latest 50 open ones: read in order from this index, not sorted from all.
    op.create_index("ix_tickets_updated", "tickets", ["updated_at", "id"])
    # Every customer card counts that customer's open reminders.
    op.create_index("ix_reminders_customer", "reminders", ["customer_id", "status"])


def downgrade() -> None:
    op.drop_index("ix_reminders_customer", table_name="reminders")
    op.drop_index("ix_tickets_updated", table_name="tickets")
