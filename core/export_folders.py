"""An emotion-folder view of the labeled images, `DEST/<emotion>/<file>`, for tools that read a dataset that way.

Labels live in the database and files stay content-addressed in the store; this view is written on request
(`python -m core export --emotion-folders DEST`). Files are hard-linked (no extra space; the store never changes a
file in place, so the view stays valid) or copied when linking is impossible or `copy=True`. The view is built in a
temporary sibling folder and renamed into place, so DEST is either the old view or the new one, never half of it.
DEST must be new, empty, or an earlier view left exactly as written (its marker lists its files): anything else is
refused before a file is written.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from core.db import session_scope
from core.errors import StudioError
from core.schema import STATUS_TRAIN
from core.store import Store
from core.store.tables import ImageRecord

# Written last into every view: which files it holds, so a later export may replace it and nothing else.
MARKER = ".studio-export.json"


@dataclass
class FolderExport:
    dest: Path
    counts: dict[str, int] = field(default_factory=dict)  # files per emotion
    linked: int = 0
    copied: int = 0
    missing: list[tuple[int, str]] = field(default_factory=list)  # (image id, path): files not in the store

    def summary(self) -> str:
        per = ", ".join(f"{e} {n}" for e, n in sorted(self.counts.items())) or "no labeled image"
        text = f"{sum(self.counts.values())} images in {self.dest} ({per}); {self.linked} linked, {self.copied} copied"
        return text + (f"; {len(self.missing)} files missing from the store" if self.missing else "")


class ExportRefused(StudioError):
    """The destination holds something an export must not replace."""


def _labeled(store: Store, statuses: Sequence[str]) -> Iterator[tuple[int, str, str]]:
    """(id, path, emotion) of the labeled images in `statuses`, streamed (no landmark arrays loaded)."""
    query = (
        select(ImageRecord.id, ImageRecord.path, ImageRecord.emotion)
        .where(ImageRecord.status.in_(list(statuses)), ImageRecord.emotion.is_not(None))
        .order_by(ImageRecord.id)
        .execution_options(yield_per=1000)
    )
    with session_scope(store.engine) as session:
        for image_id, path, emotion in session.execute(query):
            yield int(image_id), str(path), str(emotion)


def _earlier_view_files(dest: Path) -> set[str] | None:
    """The files an earlier view recorded in its marker; None when DEST has no readable marker."""
    try:
        listed = json.loads((dest / MARKER).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return {str(name) for name in listed} if isinstance(listed, list) else None


def check_destination(store: Store, dest: Path) -> None:
    """Refuse (ExportRefused) a DEST that is a file, lies in the store's image folder, or holds anything other than
    an untouched earlier view."""
    if dest.exists() and not dest.is_dir():
        raise ExportRefused(f"{dest} is a file, not a folder: choose a new or empty folder")
    images = (store.data_root / "images").resolve()
    if dest.resolve() == images or dest.resolve().is_relative_to(images):
        raise ExportRefused(f"{dest} is inside the store's image folder ({images}): choose a folder outside it")
    if not dest.exists() or not any(dest.iterdir()):
        return
    listed = _earlier_view_files(dest)
    if listed is None:
        raise ExportRefused(
            f"{dest} is not empty and is not an earlier emotion-folder export (no {MARKER}): choose a new or empty "
            "folder; nothing was written"
        )
    present = {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_symlink() or not p.is_dir()}
    present.discard(MARKER)
    unrelated = sorted(present - listed)
    if unrelated:
        raise ExportRefused(
            f"{dest} is an earlier export but now also holds {len(unrelated)} other file(s) (first: {unrelated[0]}): "
            "move them away or choose another folder; nothing was written"
        )


def _place(source: Path, target: Path, copy: bool, report: FolderExport) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if not copy:
        try:
            os.link(source, target)
            report.linked += 1
            return
        except OSError:  # another filesystem, or links not allowed there: copy instead
            pass
    shutil.copy2(source, target)
    report.copied += 1


def _build(store: Store, folder: Path, statuses: Sequence[str], copy: bool, report: FolderExport) -> None:
    counts: Counter[str] = Counter()
    written = []
    for image_id, path, emotion in _labeled(store, statuses):
        source = store.data_root / path
        if not source.is_file():
            report.missing.append((image_id, path))
            continue
        name = f"{emotion}/{Path(path).name}"
        _place(source, folder / name, copy, report)
        written.append(name)
        counts[emotion] += 1
    report.counts = dict(counts)
    (folder / MARKER).write_text(json.dumps({"files": written, "counts": report.counts}, indent=1), encoding="utf-8")


def _swap_in(tmp: Path, dest: Path) -> None:
    """Put the finished view `tmp` at `dest`; an earlier view (or an empty folder) there goes only once it is."""
    if not dest.exists():
        os.rename(tmp, dest)
        return
    old = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.old")
    os.rename(dest, old)
    try:
        os.rename(tmp, dest)
    except OSError:
        os.rename(old, dest)  # put the earlier view back rather than leave none
        raise
    shutil.rmtree(old, ignore_errors=True)


def export_emotion_folders(
    store: Store, dest: Path, *, statuses: Sequence[str] = (STATUS_TRAIN,), copy: bool = False
) -> FolderExport:
    """Write the labeled images of `statuses` to `dest/<emotion>/`, hard-linked (or copied), replacing an earlier
    view there atomically. Refused with ExportRefused before anything is written when `dest` holds other files."""
    dest = Path(dest).expanduser().absolute()
    check_destination(store, dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.part")
    tmp.mkdir()
    report = FolderExport(dest)
    try:
        _build(store, tmp, statuses, copy, report)
        check_destination(store, dest)  # again: someone may have put files there while the view was built
        _swap_in(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return report
