"""What one file to import is, the report of an import, and the one loop that stores files (labels from the file
name and folder unless given; a bad file is skipped with its reason)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from core.auth import Permission, require
from core.errors import ImageNotReadable
from core.imaging import verify_image
from core.labels import label_for_path
from core.progress import ProgressFn
from core.schema import IMAGE_EXTENSIONS, STATUS_SUITE
from core.store import Store

MB = 1024 * 1024


@dataclass
class ImportReport:
    added: int = 0
    duplicates: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)
    # Same bytes already stored under another label: (name, label in the store, label this import gave it).
    conflicts: list[tuple[str, str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    image_ids: list[int] = field(default_factory=list)
    cancelled: bool = False

    @property
    def total(self) -> int:
        return self.added + self.duplicates + len(self.skipped)

    def as_result(self, limit: int = 500) -> dict[str, Any]:
        """The report as a job result (JSON), each list cut to `limit` entries (the counts stay exact)."""
        return {
            "added": self.added,
            "duplicates": self.duplicates,
            "skipped": [list(s) for s in self.skipped[:limit]],
            "skipped_count": len(self.skipped),
            "conflicts": [list(c) for c in self.conflicts[:limit]],
            "warnings": self.warnings[:limit],
            "image_ids": self.image_ids[:limit],
            "cancelled": self.cancelled,
            "summary": self.summary(),
        }

    @classmethod
    def from_result(cls, result: dict[str, Any]) -> ImportReport:
        return cls(
            added=int(result.get("added", 0)),
            duplicates=int(result.get("duplicates", 0)),
            skipped=[(str(a), str(b)) for a, b in result.get("skipped", [])],
            conflicts=[(str(a), str(b), str(c)) for a, b, c in result.get("conflicts", [])],
            warnings=[str(w) for w in result.get("warnings", [])],
            image_ids=[int(i) for i in result.get("image_ids", [])],
            cancelled=bool(result.get("cancelled", False)),
        )

    def summary(self) -> str:
        text = f"{self.added} added, {self.duplicates} already in the store, {len(self.skipped)} skipped"
        if self.conflicts:
            text += f", {len(self.conflicts)} label conflicts"
        return text + (" (cancelled)" if self.cancelled else "")


@dataclass(frozen=True)
class Incoming:
    """One file to import: a name (relative path, used for its label) and its bytes, or why they could not be read."""

    name: str
    data: bytes
    problem: str | None = None  # set when the file could not be read: reported as the reason it was skipped
    emotion: str | None = None
    label_source: str | None = None
    person: str | None = None
    attributes: dict[str, object] | None = None
    status: str | None = None  # the dataset's own split (a public layout's train/test), else the import's


def is_image_name(name: str) -> bool:
    base = PurePosixPath(name).name
    return not base.startswith(".") and PurePosixPath(name).suffix.lower() in IMAGE_EXTENSIONS


def import_items(
    store: Store,
    items: Iterable[Incoming],
    *,
    total: int | None = None,
    source: str = "imported",
    status: str | None = None,
    labels_from_names: bool = True,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    report: ImportReport | None = None,
) -> ImportReport:
    """Add files to the store; labels not given explicitly come from the file name, then the folder (unless
    `labels_from_names` is off, as for the active-learning pool, whose labels come from review only)."""
    require(Permission.IMPORT)
    report = report or ImportReport()
    count = total or 0
    for done, item in enumerate(items, start=1):
        if cancel is not None and cancel.is_set():
            report.cancelled = True
            break
        emotion, label_source = item.emotion, item.label_source
        if emotion is None and labels_from_names:
            guess = label_for_path(PurePosixPath(item.name))
            emotion, label_source = guess.emotion, guess.source
            if guess.warning:
                report.warnings.append(f"{item.name}: {guess.warning}")
        if item.problem is not None:
            report.skipped.append((item.name, item.problem))
            if progress is not None:
                progress(done, max(count, done))
            continue
        try:
            verify_image(item.data, store.settings.max_image_pixels)
            result = store.add_image(
                item.data,
                original_name=item.name,
                source=source,
                emotion=emotion,
                label_source=label_source,
                status=item.status or status,
                person=item.person,
                attributes=item.attributes,
            )
        except ImageNotReadable as exc:
            report.skipped.append((item.name, str(exc)))
        except OSError as exc:
            report.skipped.append((item.name, f"could not be stored: {exc.strerror or exc}"))
        else:
            report.image_ids.append(result.image_id)
            if result.created:
                report.added += 1
            else:
                report.duplicates += 1
                _note_conflict(store, report, item.name, result.image_id, emotion, status)
        if progress is not None:
            progress(done, max(count, done))
    return report


def _note_conflict(
    store: Store, report: ImportReport, name: str, image_id: int, emotion: str | None, status: str | None
) -> None:
    """A duplicate that claims another label than the stored one: the store keeps its label, the report says so.
    A duplicate of an evaluation suite's test image stays a test image: the report says it was not added."""
    record = store.get(image_id)
    if record is not None and record.status == STATUS_SUITE and status != STATUS_SUITE:
        report.warnings.append(f"{name}: a test image of an evaluation suite, never trained on (kept out of training)")
    if emotion is None:
        return
    if record is not None and record.emotion != emotion:
        report.conflicts.append((name, record.emotion or "unlabeled", emotion))
