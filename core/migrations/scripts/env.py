"""Alembic's environment: `open_database` passes an open connection; the `alembic` command line uses Settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from core.migrations.metadata import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        # SQLite cannot ALTER most things: batch mode copies the table, so one migration runs on both databases.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


_given = context.config.attributes.get("connection")
if _given is not None:
    _run(_given)
else:  # `alembic -c alembic.ini ...` from the command line: the database of DATABASE_URL / DATA_ROOT
    from core.db import get_engine
    from core.settings import get_settings

    with get_engine(get_settings().resolved_database_url).begin() as _connection:
        _run(_connection)
