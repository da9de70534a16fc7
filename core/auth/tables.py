"""ORM table of the people who may sign in, and their roles."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.store.tables import utcnow


def new_user_id() -> str:
    """A random id for a users row: never reused, so removing someone and adding the same address again makes a
    different user (their old API keys do not come back)."""
    return uuid.uuid4().hex


class UserRow(Base):
    """One person: identity (their e-mail), a never-reused id, role name, when added and when last signed in."""

    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), unique=True, index=True, default=new_user_id)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_sign_in: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
