"""Where the PostgreSQL tests find their server: STUDIO_TEST_POSTGRES_URL (set by .ci/run). In CI a missing server
fails the tests; locally they skip with the reason."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator

from tests.ci import skip_or_fail

ENV = "STUDIO_TEST_POSTGRES_URL"


def postgres_url() -> str:
    url = os.environ.get(ENV)
    if not url:
        skip_or_fail(f"no PostgreSQL server: set {ENV} (e.g. postgresql+psycopg://user:pw@127.0.0.1:5432/db)")
    from sqlalchemy import create_engine, text

    try:
        with create_engine(url).connect() as conn:
            conn.execute(text("select 1"))
    except Exception as exc:
        skip_or_fail(f"PostgreSQL at {ENV} is unreachable: {exc}")
    return url


@contextlib.contextmanager
def scratch_database() -> Iterator[str]:
    """A new, empty database on the test server (URL yielded), dropped afterwards: each test starts from nothing,
    migrations included, and never sees another test's tables."""
    from sqlalchemy import create_engine, make_url, text

    from core.db import dispose_engine

    base = make_url(postgres_url())
    name = f"studio_{secrets.token_hex(6)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        dispose_engine(url)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
