"""ORM tables of evaluation suites: a named suite, its test sets (one domain each) and the images of each set.

The images themselves are ordinary store records whose status is "suite" (never trained on); these tables only say
which suite and domain they belong to.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.store.tables import utcnow


class SuiteRow(Base):
    __tablename__ = "suites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True, index=True)
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Set by every evaluation: promotion compares on the last used suite unless told otherwise.
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SuiteSetRow(Base):
    """One labeled test set of a suite, tagged with its domain (`web`, `posed`, `low-res`, ... any name)."""

    __tablename__ = "suite_sets"
    __table_args__ = (UniqueConstraint("suite_id", "domain", name="uq_suite_sets_domain"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    suite_id: Mapped[int] = mapped_column(ForeignKey("suites.id", ondelete="CASCADE"), index=True)
    domain: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(1024), default="")  # the path it was imported from


class SuiteImageRow(Base):
    __tablename__ = "suite_images"

    set_id: Mapped[int] = mapped_column(ForeignKey("suite_sets.id", ondelete="CASCADE"), primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), primary_key=True, index=True)
