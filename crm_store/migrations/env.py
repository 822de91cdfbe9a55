"""Alembic environment: runs on the connection crm_store.migrate hands over (sync or async)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

from crm_store.tables import metadata
from crm_store.views import create_views, drop_views

config = context.config


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables by copy; batch mode does that for us
        compare_type=True,
    )
    with context.begin_transaction():
        # SQLite cannot rename a table a view names (batch migrations copy and rename): the
        # published views come down before any migration and go back up at head, defined by
        # today's code. With nothing to migrate they are left alone (a DROP VIEW would wait for
        # every BI query reading them).
        head = context.script.get_current_head()
        target = context.get_revision_argument()
        at_head = context.get_context().get_current_revision() == head
        moving = not (at_head and target in ("head", "heads", head))
        if moving:
            drop_views(connection)  # type: ignore[arg-type]
        context.run_migrations()
        if context.get_context().get_current_revision() == head:
            create_views(connection, only_missing=not moving)  # type: ignore[arg-type]


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    # Command-line alembic (developers generating revisions) with a sync URL.
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with engine.connect() as conn:
        _run(conn)
