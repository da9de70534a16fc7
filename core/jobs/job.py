"""A job as read from its row (`Job`), and a worker as the Jobs page shows it (`WorkerInfo`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import ValidationError

from core.errors import StudioError
from core.jobs.contract import Result
from core.jobs.tables import FINISHED, JobRow
from core.store.tables import utcnow

R = TypeVar("R", bound=Result)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back without a zone; they were written in UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Job:
    """A snapshot of one job row, safe to hold after its session closed."""

    id: int
    kind: str
    params: dict[str, Any]
    status: str
    done: int
    total: int
    message: str
    started_by: str
    started_role: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str
    cancel_requested: bool
    heartbeat_at: datetime | None
    worker_id: str | None
    attempts: int
    result: dict[str, Any] | None

    @classmethod
    def of(cls, row: JobRow) -> Job:
        return cls(
            id=row.id,
            kind=row.kind,
            params=dict(row.params or {}),
            status=row.status,
            done=row.done,
            total=row.total,
            message=row.message,
            started_by=row.started_by,
            started_role=row.started_role,
            created_at=aware(row.created_at) or utcnow(),
            started_at=aware(row.started_at),
            finished_at=aware(row.finished_at),
            error=row.error,
            cancel_requested=row.cancel_requested,
            heartbeat_at=aware(row.heartbeat_at),
            worker_id=row.worker_id,
            attempts=row.attempts,
            result=dict(row.result) if row.result is not None else None,
        )

    def result_as(self, model: type[R]) -> R | None:
        """The job's result as its kind's `Result` model; None while it has none (queued, running, failed, or handed
        back). A row its kind's code can no longer read says so, rather than showing half a result."""
        if self.result is None:
            return None
        try:
            return model.model_validate(self.result)
        except ValidationError as exc:
            raise StudioError(f"job {self.id}'s result was written by another version of the code: {exc}") from None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total > 0 else 0.0

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None:
            return None
        return ((self.finished_at or utcnow()) - self.started_at).total_seconds()


@dataclass(frozen=True)
class WorkerInfo:
    """A worker (a supervisor of runner processes) as the Jobs page shows it."""

    id: str
    host: str
    pid: int
    kinds: str
    started_at: datetime
    heartbeat_at: datetime
    alive: bool
    jobs: list[int]
