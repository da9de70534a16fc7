"""Every table of the project on one MetaData: what the migrations' autogenerate compares a database against.

A feature defines its tables on `core.db.Base` in its own `tables` module; importing that module here is what makes
Alembic see them. Nothing else creates tables: the migrations in `core/migrations/scripts/versions/` do.
"""

from __future__ import annotations

from sqlalchemy import MetaData

import core.active_learning.tables
import core.apikeys.tables
import core.auth.tables
import core.generation.tables
import core.jobs.tables
import core.server_settings
import core.store.tables
import core.suites.tables
from core.db import Base

TABLE_MODULES = (
    core.store.tables,
    core.active_learning.tables,
    core.generation.tables,
    core.apikeys.tables,
    core.auth.tables,
    core.jobs.tables,
    core.server_settings,
    core.suites.tables,
)

metadata: MetaData = Base.metadata
