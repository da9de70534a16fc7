"""Persistent generation jobs: items move pending -> running -> done | failed in the database.

Crash safety: an item's image is stored under a file name unique to the item (`<emotion>_<persona>_j<job>.png`,
the seed's emotion-tag convention). If a process dies after storing the image but before marking the item done,
`recover` finds the image by that name and completes the item, so a resumed job never generates it twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, timedelta
from typing import Any

from sqlalchemy import func, select, update

from core.auth import Permission, User, require, require_owner
from core.db import session_scope
from core.errors import JobNotFound
from core.generation.tables import GenerationItemRow, GenerationJobRow
from core.generation.templates import GenerationItem, GenerationJob, GenerationTemplate, ItemSpec
from core.schema import GEN_DONE, GEN_FAILED, GEN_PENDING, GEN_RUNNING, GENERATION_STATES, SOURCE_GENERATED
from core.store import Store
from core.store.tables import ImageRecord, utcnow

_CHUNK = 500  # keeps IN (...) lists well under every database's parameter limit


def file_name_for(spec: ItemSpec, job_id: int) -> str:
    return f"{spec.attributes.emotion}_{spec.persona}_j{job_id}.png"


def _item(row: GenerationItemRow) -> GenerationItem:
    return GenerationItem(
        id=row.id,
        key=row.key,
        position=row.position,
        persona=row.persona,
        emotion=row.emotion,
        prompt=row.prompt,
        file_name=row.file_name,
        state=row.state,
        reason=row.reason,
        attempts=row.attempts,
        image_id=row.image_id,
        seed=row.seed,
        attributes=dict(row.attributes),
    )


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


class JobStore:
    """Job and item rows next to the dataset store (same database)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = store.engine

    # ---- jobs ----------------------------------------------------------------------------------------------
    def create_job(self, template: GenerationTemplate, *, model: str, new: bool = False) -> int:
        """The job of this template (an unfinished or finished one with the same fingerprint), or a new one.

        Items are inserted by key, so calling this again never duplicates them; `new=True` forces a fresh job.
        """
        user = require(Permission.GENERATE)
        fingerprint = template.fingerprint()
        specs = template.expand()
        with session_scope(self.engine) as session:
            job_id = None
            if not new:
                job_id = session.scalar(
                    select(GenerationJobRow.id)
                    .where(GenerationJobRow.fingerprint == fingerprint)
                    .order_by(GenerationJobRow.id.desc())
                )
            if job_id is None:
                row = GenerationJobRow(
                    name=template.name,
                    fingerprint=fingerprint,
                    template=template.model_dump(mode="json"),
                    model=model,
                    started_by=user.id,
                )
                session.add(row)
                session.flush()
                job_id = row.id
            known = set(session.scalars(select(GenerationItemRow.key).where(GenerationItemRow.job_id == job_id)))
            for spec in specs:
                if spec.key in known:
                    continue
                session.add(
                    GenerationItemRow(
                        job_id=job_id,
                        key=spec.key,
                        position=spec.position,
                        persona=spec.persona,
                        emotion=spec.attributes.emotion,
                        seed=spec.seed,
                        attributes=spec.attributes.model_dump(),
                        prompt=spec.prompt,
                        file_name=file_name_for(spec, job_id),
                        state=GEN_PENDING,
                    )
                )
            return int(job_id)

    def job_model(self, job_id: int) -> str:
        with session_scope(self.engine) as session:
            row = session.get(GenerationJobRow, job_id)
            if row is None:
                raise JobNotFound(f"no generation job with id {job_id}")
            return row.model

    def mark_started(self, job_id: int) -> User:
        """Record the acting user as the one who started this run of the job (trainers only)."""
        user = require(Permission.GENERATE)
        with session_scope(self.engine) as session:
            row = session.get(GenerationJobRow, job_id)
            if row is None:
                raise JobNotFound(f"no generation job with id {job_id}")
            row.started_by = user.id
        return user

    def authorize_cancel(self, job_id: int) -> User:
        """The acting user, if they started the job's run or are an admin; else PermissionDenied."""
        with session_scope(self.engine) as session:
            row = session.get(GenerationJobRow, job_id)
            if row is None:
                raise JobNotFound(f"no generation job with id {job_id}")
            owner = row.started_by or None
        return require_owner(owner, f"cancelling generation job #{job_id}")

    def counts(self, job_id: int) -> dict[str, int]:
        with session_scope(self.engine) as session:
            rows = session.execute(
                select(GenerationItemRow.state, func.count())
                .where(GenerationItemRow.job_id == job_id)
                .group_by(GenerationItemRow.state)
            ).all()
        out = dict.fromkeys(GENERATION_STATES, 0)
        out.update({state: int(n) for state, n in rows})
        return out

    def get_job(self, job_id: int, *, with_items: bool = False) -> GenerationJob:
        with session_scope(self.engine) as session:
            row = session.get(GenerationJobRow, job_id)
            if row is None:
                raise JobNotFound(f"no generation job with id {job_id}")
            items: list[GenerationItem] = []
            if with_items:
                query = select(GenerationItemRow).where(GenerationItemRow.job_id == job_id)
                items = [_item(r) for r in session.scalars(query.order_by(GenerationItemRow.position))]
            template = GenerationTemplate.model_validate(row.template)
            name, created, started_by = row.name, row.created_at, row.started_by
        return GenerationJob(
            id=job_id,
            name=name,
            template=template,
            created_at=created,
            counts=self.counts(job_id),
            items=items,
            started_by=started_by or "",
        )

    def list_jobs(self) -> list[GenerationJob]:
        with session_scope(self.engine) as session:
            ids = list(session.scalars(select(GenerationJobRow.id).order_by(GenerationJobRow.id.desc())))
        return [self.get_job(i) for i in ids]

    # ---- items ---------------------------------------------------------------------------------------------
    def items(self, job_id: int, *, states: Sequence[str] = (), limit: int | None = None) -> list[GenerationItem]:
        query = select(GenerationItemRow).where(GenerationItemRow.job_id == job_id)
        if states:
            query = query.where(GenerationItemRow.state.in_(list(states)))
        query = query.order_by(GenerationItemRow.position)
        if limit is not None:
            query = query.limit(limit)
        with session_scope(self.engine) as session:
            return [_item(r) for r in session.scalars(query)]

    def recent_done(self, job_id: int, limit: int = 12) -> list[GenerationItem]:
        query = (
            select(GenerationItemRow)
            .where(GenerationItemRow.job_id == job_id, GenerationItemRow.state == GEN_DONE)
            .order_by(GenerationItemRow.finished_at.desc(), GenerationItemRow.id.desc())
            .limit(limit)
        )
        with session_scope(self.engine) as session:
            return [_item(r) for r in session.scalars(query)]

    def recent_rate(self, job_id: int, window_s: float = 30.0) -> float:
        """Items settled per second over the last `window_s` seconds, from the database (any process's run)."""
        since = utcnow() - timedelta(seconds=window_s)
        with session_scope(self.engine) as session:
            stamps = list(
                session.scalars(
                    select(GenerationItemRow.finished_at).where(
                        GenerationItemRow.job_id == job_id,
                        GenerationItemRow.state.in_([GEN_DONE, GEN_FAILED]),
                        GenerationItemRow.finished_at >= since,
                    )
                )
            )
        times = sorted(t.replace(tzinfo=UTC) if t.tzinfo is None else t for t in stamps if t is not None)
        if len(times) < 2:
            return 0.0
        span = (utcnow() - times[0]).total_seconds()
        return (len(times) - 1) / span if span > 0 else 0.0

    def recover(self, job_id: int) -> int:
        """Make the job resumable after a crash: items whose image is already stored become done; items left
        running by a dead process go back to pending. Returns how many items were completed from stored images.

        Called by a run as it starts; the job queue runs one run of a generation at a time (the GENERATION kind's
        exclusive key), so no live run is affected.
        """
        with session_scope(self.engine) as session:
            open_items = session.execute(
                select(GenerationItemRow.id, GenerationItemRow.file_name).where(
                    GenerationItemRow.job_id == job_id, GenerationItemRow.state.in_([GEN_PENDING, GEN_RUNNING])
                )
            ).all()
            by_name = {name: item_id for item_id, name in open_items}
            found: dict[int, int] = {}
            names = list(by_name)
            for chunk in _chunks(names):
                rows = session.execute(
                    select(ImageRecord.original_name, ImageRecord.id).where(
                        ImageRecord.source == SOURCE_GENERATED, ImageRecord.original_name.in_(list(chunk))
                    )
                ).all()
                for name, image_id in rows:
                    found[by_name[name]] = image_id
            now = utcnow()
            for item_id, image_id in found.items():
                session.execute(
                    update(GenerationItemRow)
                    .where(GenerationItemRow.id == item_id)
                    .values(state=GEN_DONE, image_id=image_id, reason="", finished_at=now)
                )
            session.execute(
                update(GenerationItemRow)
                .where(GenerationItemRow.job_id == job_id, GenerationItemRow.state == GEN_RUNNING)
                .values(state=GEN_PENDING)
            )
        return len(found)

    def claim_many(self, item_ids: Sequence[int]) -> list[int]:
        """pending -> running for several items in one transaction; returns the ids this caller got (an item that is
        no longer pending, because it is done, failed or claimed elsewhere, is not among them)."""
        if not item_ids:
            return []
        # The claim time doubles as a token: the rows stamped with it are the ones this call moved.
        token = utcnow()
        with session_scope(self.engine) as session:
            session.execute(
                update(GenerationItemRow)
                .where(GenerationItemRow.id.in_(list(item_ids)), GenerationItemRow.state == GEN_PENDING)
                .values(state=GEN_RUNNING, started_at=token, attempts=GenerationItemRow.attempts + 1)
            )
            got = session.scalars(
                select(GenerationItemRow.id).where(
                    GenerationItemRow.id.in_(list(item_ids)),
                    GenerationItemRow.state == GEN_RUNNING,
                    GenerationItemRow.started_at == token,
                )
            )
            return sorted(got)

    def mark_done_many(self, done: Sequence[tuple[int, int]]) -> None:
        """(item id, image id) pairs -> done, in one transaction (an executemany by primary key)."""
        if not done:
            return
        now = utcnow()
        rows = [
            {"id": item_id, "state": GEN_DONE, "image_id": image_id, "reason": "", "finished_at": now}
            for item_id, image_id in done
        ]
        with session_scope(self.engine) as session:
            session.execute(update(GenerationItemRow), rows)

    def mark_failed(self, item_id: int, reason: str) -> None:
        self._set(item_id, state=GEN_FAILED, reason=reason[:2000], finished_at=utcnow())

    def release(self, item_ids: Sequence[int]) -> None:
        """running -> pending for items whose work was cancelled."""
        with session_scope(self.engine) as session:
            for chunk in _chunks(list(item_ids)):
                session.execute(
                    update(GenerationItemRow)
                    .where(GenerationItemRow.id.in_(list(chunk)), GenerationItemRow.state == GEN_RUNNING)
                    .values(state=GEN_PENDING)
                )

    def retry_failed(self, job_id: int, item_ids: Sequence[int] | None = None) -> int:
        """failed -> pending (all failed items of the job, or the given ones). Returns how many."""
        require(Permission.GENERATE)
        query = update(GenerationItemRow).where(
            GenerationItemRow.job_id == job_id, GenerationItemRow.state == GEN_FAILED
        )
        if item_ids is not None:
            query = query.where(GenerationItemRow.id.in_(list(item_ids)))
        with session_scope(self.engine) as session:
            result = session.execute(query.values(state=GEN_PENDING, reason=""))
            return int(getattr(result, "rowcount", 0) or 0)

    def _set(self, item_id: int, **values: Any) -> None:
        with session_scope(self.engine) as session:
            session.execute(update(GenerationItemRow).where(GenerationItemRow.id == item_id).values(**values))
