"""store_meta: the store's identity, which the customer index snapshots are keyed by

Revision ID: 0014_index
Revises: 0012_telegram_dedupe
Create Date: 2026-12-03 11:00:00.000000
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0014_index"
down_revision = "0013_store"
branch_labels = None
depends_on = None


def upgrade() -> None:
    store_meta = op.create_table(
        "store_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_store_meta")),
    )
    # Made once, when the store is created or upgraded: a snapshot names the store it was
    # built from, and another store (or a fresh one at the same path) never matches it.
    op.bulk_insert(store_meta, [{"key": "store_id", "value": uuid.uuid4().hex}])


def downgrade() -> None:
    op.drop_table("store_meta")
