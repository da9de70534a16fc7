"""Server settings an admin changes from the dashboard at runtime (a key and a JSON value each), with who changed
them and when. `Settings` (environment, `.env`, secrets) holds the operator's defaults; a value stored here wins over
its default until an admin resets it. Today: the import roots (`core.import_roots`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Engine, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, session_scope
from core.store.tables import utcnow


class ServerSettingRow(Base):
    """One setting an admin changed: its value, who changed it and when."""

    __tablename__ = "server_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    changed_by: Mapped[str] = mapped_column(String(320))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


@dataclass(frozen=True)
class StoredSetting:
    value: Any
    changed_by: str
    changed_at: datetime


def read_setting(engine: Engine, key: str) -> StoredSetting | None:
    """The stored value of `key`, or None when no admin has set it (the caller falls back to `Settings`)."""
    with session_scope(engine) as session:
        row = session.get(ServerSettingRow, key)
        if row is None:
            return None
        # SQLite hands back naive datetimes (stored as UTC), PostgreSQL aware ones.
        at = row.changed_at if row.changed_at.tzinfo else row.changed_at.replace(tzinfo=UTC)
        return StoredSetting(row.value, row.changed_by, at)


def write_setting(engine: Engine, key: str, value: Any, changed_by: str) -> StoredSetting:
    """Store `value` for `key` (insert or replace). Callers check the acting user's role first."""
    with session_scope(engine) as session:
        row = session.get(ServerSettingRow, key)
        if row is None:
            row = ServerSettingRow(key=key)
            session.add(row)
        row.value, row.changed_by, row.changed_at = value, changed_by, utcnow()
        return StoredSetting(value, changed_by, row.changed_at)


def clear_setting(engine: Engine, key: str) -> bool:
    """Forget the stored value of `key` (back to `Settings`); False when none was stored."""
    with session_scope(engine) as session:
        row = session.get(ServerSettingRow, key)
        if row is None:
            return False
        session.delete(row)
        return True
