"""inbox.dedupe_key: a Telegram message or press counted once whatever its update_id

Revision ID: 0012_telegram_dedupe
Revises: 0008
Create Date: 2026-12-03 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_telegram_dedupe"
down_revision = "0011_outbox_lease"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows stored before keep NULL (several NULLs never conflict): their update_id still guards them.
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dedupe_key", sa.String(length=128), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_inbox_platform_dedupe_key"), ["platform", "dedupe_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_inbox_platform_dedupe_key"), type_="unique")
        batch_op.drop_column("dedupe_key")
