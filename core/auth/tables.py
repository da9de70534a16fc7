"""ORM table of the people who may sign in, and their roles."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.store.tables import utcnow


class UserRow(Base):
    """One person: identity (e-mail, else the OIDC `sub`), role name, when added and when last signed in."""

    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_sign_in: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
