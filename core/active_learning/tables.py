"""ORM tables of active learning: the queue, LLM proposals and failures, the audit log and training rounds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base
from core.store.tables import utcnow


class QueueEntry(Base):
    """One queued image: why it was picked (its uncertainty score) and what the model predicted."""

    __tablename__ = "al_queue"

    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), primary_key=True)
    rank: Mapped[int] = mapped_column(Integer, index=True)
    score: Mapped[float] = mapped_column(Float)
    strategy: Mapped[str] = mapped_column(String(32))
    model_id: Mapped[str] = mapped_column(String(128), default="")
    predicted: Mapped[str] = mapped_column(String(16))
    confidence: Mapped[float] = mapped_column(Float)
    probabilities: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)  # skipped cards go to the end of the queue
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Proposal(Base):
    """The LLM's answer for one image. A proposal, never a label: only a person's approval makes it count."""

    __tablename__ = "al_proposals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    model: Mapped[str] = mapped_column(String(128))
    answer: Mapped[str] = mapped_column(String(16))  # an emotion, "not_a_face" or "unclear"
    confidence: Mapped[float] = mapped_column(Float)
    rationale: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LabelFailure(Base):
    """A labeling call that gave no usable proposal (malformed JSON, out-of-vocabulary answer, API error)."""

    __tablename__ = "al_label_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id", ondelete="CASCADE"), index=True)
    model: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text, default="")  # the answer's text, truncated, for diagnosis
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditEntry(Base):
    """Who changed which image, when, from what to what. Never deleted; undo writes its own entry."""

    __tablename__ = "al_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    image_id: Mapped[int] = mapped_column(Integer, index=True)  # no FK: the log outlives a deleted image
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(128), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    old_value: Mapped[dict[str, Any]] = mapped_column(JSON)
    new_value: Mapped[dict[str, Any]] = mapped_column(JSON)
    undone: Mapped[bool] = mapped_column(Boolean, default=False)
    undoes: Mapped[int | None] = mapped_column(Integer, nullable=True)  # for undo entries: the entry reverted


class RoundRow(Base):
    """One retraining round: how many labels it had and its macro-F1 on the fixed held-out set."""

    __tablename__ = "al_rounds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    n_labels: Mapped[int] = mapped_column(Integer)
    n_held_out: Mapped[int] = mapped_column(Integer)
    macro_f1: Mapped[float] = mapped_column(Float)
    accuracy: Mapped[float] = mapped_column(Float)
    model_id: Mapped[str] = mapped_column(String(128), default="")
    model_name: Mapped[str] = mapped_column(String(64), default="")
    held_out_hash: Mapped[str] = mapped_column(String(32), default="")  # rounds are comparable only on one set
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
