"""Evaluation suites: create, list and delete them, link imported images to a suite's domain, and find the people
who appear both in a suite and in the training data.

A suite's images are imported by the import job like any data, with the status "suite": the training loaders never
read that status, and the store refuses to move an image out of it (see `core.store.repository`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from core.auth import Permission, require
from core.errors import StudioError
from core.import_targets import ImportKind, import_kind_of
from core.schema import STATUS_SUITE, TRAINABLE_STATUSES
from core.store import Store
from core.store.tables import ImageRecord, utcnow
from core.suites.tables import SuiteImageRow, SuiteRow, SuiteSetRow

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")


class SuiteNotFound(StudioError):
    pass


@dataclass(frozen=True)
class SuiteSet:
    domain: str
    source: str
    image_ids: list[int]


@dataclass(frozen=True)
class Suite:
    name: str
    created_by: str
    created_at: datetime
    last_used_at: datetime | None
    sets: list[SuiteSet] = field(default_factory=list)

    @property
    def domains(self) -> list[str]:
        return [s.domain for s in self.sets]

    @property
    def n_images(self) -> int:
        return sum(len(s.image_ids) for s in self.sets)


def check_name(name: str, what: str) -> str:
    """A suite or domain name: letters, digits, `_ . -`, at most 64 characters (it names a table column)."""
    if not _NAME.match(name or ""):
        raise StudioError(f"invalid {what} {name!r}: use letters, digits, '_', '.' or '-' (at most 64 characters)")
    return name


def parse_sets(specs: Sequence[str]) -> list[tuple[str, str]]:
    """`DOMAIN=PATH` arguments as (domain, path) pairs; each domain once."""
    out: list[tuple[str, str]] = []
    for spec in specs:
        domain, sep, path = spec.partition("=")
        if not sep or not path.strip():
            raise StudioError(f"--set {spec!r}: write DOMAIN=PATH, e.g. --set posed=/data/ckplus-test")
        out.append((check_name(domain.strip(), "domain"), path.strip()))
    domains = [d for d, _ in out]
    if not out:
        raise StudioError("a suite needs at least one test set: --set DOMAIN=PATH")
    if len(set(domains)) != len(domains):
        raise StudioError("each domain may appear once in a suite")
    return out


def set_kind(path: Path) -> ImportKind:
    """How a test set's PATH is imported (as `python -m core import` would): a .csv is a manifest, a .zip an archive,
    a folder with `data.yaml` or `classes.txt` a YOLO dataset, any other folder a folder of labeled images."""
    if path.is_dir() and any((path / n).is_file() for n in ("data.yaml", "data.yml", "classes.txt")):
        return "yolo"
    return import_kind_of(path)


def _suite_row(session: Session, name: str) -> SuiteRow:
    row = session.scalar(select(SuiteRow).where(SuiteRow.name == name))
    if row is None:
        known = ", ".join(session.scalars(select(SuiteRow.name).order_by(SuiteRow.name))) or "none yet"
        raise SuiteNotFound(f"no suite named {name!r} (suites: {known})")
    return row


def create_suite(store: Store, name: str, domains: Sequence[tuple[str, str]]) -> None:
    """An empty suite with its domains; the import job fills each one (`add_images`). Same role as importing."""
    user = require(Permission.IMPORT)
    check_name(name, "suite name")
    with store.transaction() as session:
        if session.scalar(select(SuiteRow.id).where(SuiteRow.name == name)) is not None:
            raise StudioError(f"a suite named {name!r} exists already: delete it first, or choose another name")
        suite = SuiteRow(name=name, created_by=user.id)
        session.add(suite)
        session.flush()
        for domain, source in domains:
            session.add(SuiteSetRow(suite_id=suite.id, domain=check_name(domain, "domain"), source=source))


def add_images(store: Store, name: str, domain: str, image_ids: Sequence[int]) -> list[tuple[int, str]]:
    """Link imported images to a suite's domain; returns the (image id, reason) of those left out: an image that
    is already training data (or in the pool) stays where it is, an image without a label cannot be scored."""
    require(Permission.IMPORT)
    refused: list[tuple[int, str]] = []
    with store.transaction() as session:
        suite = _suite_row(session, name)
        set_id = session.scalar(
            select(SuiteSetRow.id).where(SuiteSetRow.suite_id == suite.id, SuiteSetRow.domain == domain)
        )
        if set_id is None:
            raise StudioError(f"suite {name!r} has no domain {domain!r}")
        linked = set(session.scalars(select(SuiteImageRow.image_id).where(SuiteImageRow.set_id == set_id)))
        for image_id in dict.fromkeys(image_ids):
            record = session.get(ImageRecord, image_id)
            if record is None or image_id in linked:
                continue
            if record.status != STATUS_SUITE:
                refused.append((image_id, f"already in the store as {record.status} data: a test image must be new"))
            elif record.emotion is None:
                refused.append((image_id, "no label: a test image needs one (file name, folder or manifest)"))
            else:
                session.add(SuiteImageRow(set_id=set_id, image_id=image_id))
                linked.add(image_id)
    return refused


def get_suite(store: Store, name: str) -> Suite:
    with store.transaction() as session:
        return _load(session, _suite_row(session, name))


def _load(session: Session, row: SuiteRow) -> Suite:
    sets = []
    for s in session.scalars(select(SuiteSetRow).where(SuiteSetRow.suite_id == row.id).order_by(SuiteSetRow.id)):
        ids = list(
            session.scalars(
                select(SuiteImageRow.image_id).where(SuiteImageRow.set_id == s.id).order_by(SuiteImageRow.image_id)
            )
        )
        sets.append(SuiteSet(s.domain, s.source, ids))
    return Suite(row.name, row.created_by, row.created_at, row.last_used_at, sets)


def list_suites(store: Store) -> list[Suite]:
    """Every suite, by name."""
    with store.transaction() as session:
        return [_load(session, row) for row in session.scalars(select(SuiteRow).order_by(SuiteRow.name))]


def last_used_suite(store: Store) -> str | None:
    """The suite evaluated last (else the newest one): what promotion compares on unless told otherwise."""
    with store.transaction() as session:
        query = select(SuiteRow.name).order_by(
            SuiteRow.last_used_at.is_(None), SuiteRow.last_used_at.desc(), SuiteRow.id.desc()
        )
        return session.scalars(query.limit(1)).first()


def mark_used(store: Store, name: str) -> None:
    with store.transaction() as session:
        session.execute(update(SuiteRow).where(SuiteRow.name == name).values(last_used_at=utcnow()))


def delete_suite(store: Store, name: str) -> int:
    """Delete a suite (same role as importing). Its images stay in the store as test images, never trained on
    (`python -m core data delete --status suite` removes those no suite uses); returns how many it held."""
    require(Permission.IMPORT)
    with store.transaction() as session:
        row = _suite_row(session, name)
        n = session.scalar(
            select(func.count(SuiteImageRow.image_id)).join(SuiteSetRow).where(SuiteSetRow.suite_id == row.id)
        )
        session.execute(delete(SuiteRow).where(SuiteRow.id == row.id))  # sets and links go by ON DELETE CASCADE
    return int(n or 0)


def person_overlap(store: Store, name: str) -> list[str]:
    """People who appear both in the suite and in the training data: their suite scores flatter the model."""
    with store.transaction() as session:
        suite = _suite_row(session, name)
        in_suite = set(
            session.scalars(
                select(ImageRecord.person)
                .join(SuiteImageRow, SuiteImageRow.image_id == ImageRecord.id)
                .join(SuiteSetRow, SuiteSetRow.id == SuiteImageRow.set_id)
                .where(SuiteSetRow.suite_id == suite.id, ImageRecord.person.is_not(None))
            )
        )
        if not in_suite:
            return []
        trained: set[str] = set()
        people = sorted(p for p in in_suite if p)
        for start in range(0, len(people), 500):  # bounded IN lists
            trained |= set(
                session.scalars(
                    select(ImageRecord.person)
                    .where(ImageRecord.status.in_(list(TRAINABLE_STATUSES)))
                    .where(ImageRecord.person.in_(people[start : start + 500]))
                    .distinct()
                )
            )
    return sorted(p for p in trained if p)


def overlap_warning(store: Store, name: str) -> str | None:
    """The warning the CLI and the page show, or None."""
    people = person_overlap(store, name)
    if not people:
        return None
    shown = ", ".join(people[:10]) + (f" and {len(people) - 10} more" if len(people) > 10 else "")
    return (
        f"{len(people)} person(s) appear both in suite {name!r} and in the training data ({shown}): the suite "
        "measures these people's faces the model has seen, so its scores are optimistic"
    )
