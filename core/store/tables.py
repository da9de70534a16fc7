"""ORM tables of the dataset store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class ImageRecord(Base):
    """One image or face crop in the store."""

    __tablename__ = "images"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    path: Mapped[str] = mapped_column(String(512))  # relative to the data root
    original_name: Mapped[str] = mapped_column(String(512), default="")
    width: Mapped[int] = mapped_column(Integer, default=0)
    height: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(16), index=True)
    emotion: Mapped[str | None] = mapped_column(String(16), index=True, nullable=True)
    label_source: Mapped[str | None] = mapped_column(String(16), nullable=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    person: Mapped[str | None] = mapped_column(String(256), index=True, nullable=True)
    age: Mapped[str | None] = mapped_column(String(32), nullable=True)
    sex: Mapped[str | None] = mapped_column(String(32), nullable=True)
    ethnicity: Mapped[str | None] = mapped_column(String(64), nullable=True)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Optimistic-locking counter: every state change increments it.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    extraction: Mapped[Extraction | None] = relationship(
        back_populates="image", uselist=False, cascade="all, delete-orphan", lazy="selectin"
    )


class Extraction(Base):
    """The landmark extraction of one image: arrays are float32 bytes, small and identical on SQLite and PostgreSQL."""

    __tablename__ = "extractions"

    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    num_faces: Mapped[int] = mapped_column(Integer, default=0)
    landmarks: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # 478 x 3 float32
    blendshapes: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # 52 float32
    transform: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # 4 x 4 float32
    bbox_x0: Mapped[float | None] = mapped_column(Float, nullable=True)  # normalized to the image
    bbox_y0: Mapped[float | None] = mapped_column(Float, nullable=True)
    bbox_x1: Mapped[float | None] = mapped_column(Float, nullable=True)
    bbox_y1: Mapped[float | None] = mapped_column(Float, nullable=True)
    model_sha256: Mapped[str] = mapped_column(String(64), default="")
    extracted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    image: Mapped[ImageRecord] = relationship(back_populates="extraction")
