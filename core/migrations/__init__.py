"""Schema migrations (Alembic) and `open_database`, the one place that prepares a database.

`open_database(url, data_root)` runs `upgrade head` the first time a process opens a database (the Store does it, so
every start-up path does): a new database gets every table, an existing one gets the migrations it lacks, and a database
made before migrations existed (tables, no `alembic_version`) is adopted in place by the baseline, which creates
only the tables that are missing. Concurrent start-ups are serialized (an advisory lock on PostgreSQL, a lock file
next to a SQLite database). A migration that moves image files (0009_labels_db_only) finds them under `data_root`
(the process-wide settings' when a caller gives none, as the `alembic` command line does).

Adding a table or column (see README, "Schema migrations"):
1. define or change the ORM class in the feature's `tables` module (on `core.db.Base`), and import that module in
   `core.migrations.metadata` if it is new;
2. write `core/migrations/scripts/versions/NNNN_<what>.py` with `revision = "NNNN"` (the next number) and
   `down_revision` = the previous head; `alembic revision --autogenerate --rev-id NNNN -m "<what>"` drafts it
   against a scratch database at the previous head;
3. the tests in tests/migrations/test_migrations.py check that the migrated schema matches the metadata.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from core.db import get_engine

# Alembic's environment and revisions: a plain folder, not a package (env.py only runs inside Alembic).
SCRIPTS = Path(__file__).resolve().parent / "scripts"
# An arbitrary constant key for PostgreSQL's advisory lock: one migration at a time per database.
_PG_LOCK_KEY = 0x5E7D10
_prepared: weakref.WeakSet[Engine] = weakref.WeakSet()
_lock = threading.Lock()


def alembic_config(connection: Connection | None = None, data_root: Path | None = None) -> Config:
    """Alembic's configuration, without an ini file; `connection` is what env.py migrates, `data_root` where the
    migrations that touch image files find them."""
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    config.attributes["connection"] = connection
    config.attributes["data_root"] = data_root
    return config


@functools.cache
def head_revision() -> str:
    """The latest revision of the code (read once per process: the scripts do not change while it runs)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "core/migrations/scripts/versions holds no migration"
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for a new database or one made before migrations."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextlib.contextmanager
def _exclusive(engine: Engine, conn: Connection) -> Iterator[None]:
    """Only one process migrates a database at a time; the others wait, then find it at head."""
    if engine.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_LOCK_KEY})
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_LOCK_KEY})
        return
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    with open(Path(database).with_name(Path(database).name + ".migrate-lock"), "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(engine: Engine, revision: str = "head", *, data_root: Path | None = None) -> None:
    """Migrate the database to `revision` (the latest by default); `data_root` holds the store's image files."""
    with engine.connect() as conn, _exclusive(engine, conn):
        conn.commit()  # the lock query opened a transaction; the migrations run in their own
        with conn.begin():
            command.upgrade(alembic_config(conn, data_root), revision)


def open_database(url: str, data_root: Path | None = None) -> Engine:
    """The engine of `url`, with its schema at the latest migration (checked once per process and engine).
    `data_root` is where the database's image files live (default: the process-wide settings')."""
    engine = get_engine(url)
    with _lock:
        if engine not in _prepared:
            if current_revision(engine) != head_revision():
                upgrade(engine, data_root=data_root)
            _prepared.add(engine)
    return engine
