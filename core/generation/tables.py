"""ORM tables of generation jobs and their items (created by the migrations, see core.migrations)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.schema import GEN_PENDING
from core.store.tables import utcnow


class GenerationJobRow(Base):
    __tablename__ = "generation_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(256), default="")
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)  # sha256 of the canonical template
    template: Mapped[dict[str, Any]] = mapped_column(JSON)
    model: Mapped[str] = mapped_column(String(128), default="")
    # Who started the latest run: only they or an admin may cancel it.
    started_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class GenerationItemRow(Base):
    __tablename__ = "generation_items"
    # One row per (job, item key): inserting a job twice can never duplicate an item.
    __table_args__ = (UniqueConstraint("job_id", "key", name="uq_generation_item_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("generation_jobs.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(128))
    position: Mapped[int] = mapped_column(Integer)
    persona: Mapped[str] = mapped_column(String(64))
    emotion: Mapped[str] = mapped_column(String(16))
    seed: Mapped[int] = mapped_column(Integer, default=0)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON)
    prompt: Mapped[str] = mapped_column(Text)
    file_name: Mapped[str] = mapped_column(String(256), unique=True)  # carries the emotion tag; finds the image
    state: Mapped[str] = mapped_column(String(16), index=True, default=GEN_PENDING)
    reason: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    image_id: Mapped[int | None] = mapped_column(ForeignKey("images.id", ondelete="SET NULL"), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
