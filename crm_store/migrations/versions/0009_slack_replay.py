"""slack replay: processed events are held while answered and marked answered after

Revision ID: 0009_slack_replay
Revises: 0008
Create Date: 2026-12-03 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import crm_store.types

revision = "0009_slack_replay"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("processed_events", schema=None) as batch_op:
        for name in ("lease_until", "answered_at"):
            batch_op.add_column(sa.Column(name, crm_store.types.UtcDateTime(timezone=True), nullable=True))
    # Rows from before were claimed once and for all: they stay closed to retries.
    op.execute("UPDATE processed_events SET answered_at = received_at")


def downgrade() -> None:
    with op.batch_alter_table("processed_events", schema=None) as batch_op:
        batch_op.drop_column("answered_at")
        batch_op.drop_column("lease_until")
