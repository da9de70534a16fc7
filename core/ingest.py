"""Importing images into the store: uploads, zip archives, folders, manifests and YOLO datasets.

Labels come from the seed's file-name tag (`happy_0042.jpg`), else the parent folder's name, else nothing (the image
goes to the unlabeled pool). One bad file never stops an import: it is listed in the report with its reason. Every
image is decoded whole before it is stored (a truncated file is refused here, not at extraction), after its header's
pixel count passed the limit; zip members are read in bounded chunks; paths are resolved before they are read.
"""

from __future__ import annotations

import csv
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from core.archives import ZipLimits, is_image_name, iter_zip
from core.auth import Permission, require
from core.errors import ImageNotReadable, PathNotAllowed, StudioError
from core.imaging import crop_box, decode_rgb, encode_png, verify_image
from core.import_roots import ImportRoots
from core.labels import label_for_path, normalize_label
from core.paths import resolve_inside, resolve_path
from core.progress import ProgressFn
from core.schema import STATUS_POOL, STATUS_SUITE, STATUS_TEST, STATUS_TRAIN
from core.settings import Settings
from core.store import Store
from core.yolo import YoloImage, read_yolo_dataset

_MB = 1024 * 1024


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

    def merge(self, other: ImportReport) -> None:
        """Add `other`'s counts and lists to this report (one report for an import made of several)."""
        self.added += other.added
        self.duplicates += other.duplicates
        self.skipped += other.skipped
        self.conflicts += other.conflicts
        self.warnings += other.warnings
        self.image_ids += other.image_ids
        self.cancelled = self.cancelled or other.cancelled

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


def import_zip(store: Store, data: bytes | Path, **kwargs: object) -> ImportReport:
    """Import the images of a zip archive (bytes or a path); labels from member names and folders inside it."""
    require(Permission.IMPORT)  # before any decompression: a refused user costs the server nothing
    store.remove_stale_temp_files()  # a crashed earlier import may have left some
    count, members, skipped = iter_zip(data, ZipLimits.from_settings(store.settings))
    report = ImportReport()
    items = (Incoming(name, payload) for name, payload in members)
    import_items(store, items, total=count, report=report, **kwargs)  # type: ignore[arg-type]
    report.skipped.extend(skipped)
    return report


def import_uploads(
    store: Store, files: Iterable[tuple[str, bytes]], *, emotion: str | None = None, pool: bool = False
) -> ImportReport:
    """Import files uploaded from a page, (name, bytes) each, into one report. An image gets `emotion` (a person's
    choice) or else its file-name tag; a .zip's images get labels from their names and folders inside it. `pool`
    sends everything to the unlabeled pool without a label (none from names either: pool labels come from review).
    A zip that cannot be read is skipped with its reason and the other files are imported."""
    require(Permission.IMPORT)
    options: dict[str, Any] = {"status": STATUS_POOL, "labels_from_names": False} if pool else {}
    report = ImportReport()
    for name, data in files:
        if name.lower().endswith(".zip"):
            try:
                report.merge(import_zip(store, data, **options))
            except StudioError as exc:
                report.skipped.append((name, str(exc)))
            continue
        chosen = None if pool else emotion
        item = Incoming(name, data, emotion=chosen, label_source="human" if chosen else None)
        import_items(store, [item], report=report, **options)
    return report


# ---- folders and manifests ---------------------------------------------------------------------------------------
OUTSIDE_FOLDER = 'refused: it lies outside the imported folder (through a symlink, ".." or an absolute path)'


def read_file(name: str, path: Path, root: Path, settings: Settings) -> Incoming:
    """The file at `path` as an Incoming, with the reason when it lies outside `root` (a symlink, `..`), is larger
    than IMPORT_MAX_FILE_MB (never read into memory then) or cannot be read; `root` is already resolved."""
    real = resolve_inside(root, path)
    if real is None:
        return Incoming(name, b"", problem=OUTSIDE_FOLDER)
    try:
        if real.stat().st_size > settings.import_max_file_mb * _MB:
            return Incoming(name, b"", problem=f"larger than {settings.import_max_file_mb:g} MB (IMPORT_MAX_FILE_MB)")
        return Incoming(name, real.read_bytes())
    except FileNotFoundError:
        return Incoming(name, b"", problem="file not found")
    except IsADirectoryError:
        return Incoming(name, b"", problem="is a folder, not a file")
    except OSError as exc:
        return Incoming(name, b"", problem=f"cannot read the file: {exc.strerror or exc}")


def image_files(root: Path) -> list[Path]:
    """Image files below `root`, without descending into symlinked folders (which may lead anywhere, or loop)."""
    out: list[Path] = []
    for folder, dirs, names in os.walk(root, followlinks=False):
        dirs.sort()
        out.extend(Path(folder) / n for n in names if is_image_name(n))
    return sorted(out)


def import_folder(store: Store, root: Path, **kwargs: object) -> ImportReport:
    """Import every image below `root`; labels from file-name tags, then the parent folder (relative to root).
    A file that links outside `root` is skipped with its reason. A dashboard import's `root` has passed
    `core.import_roots.check_import` (the import job checks it)."""
    require(Permission.IMPORT)  # before walking the folder
    folder = resolve_path(Path(root).expanduser())
    if not folder.is_dir():
        raise StudioError(f"{root} is not a folder")
    files = image_files(folder)
    store.remove_stale_temp_files()  # a crashed earlier import may have left some
    items = (read_file(p.relative_to(folder).as_posix(), p, folder, store.settings) for p in files)
    return import_items(store, items, total=len(files), **kwargs)  # type: ignore[arg-type]


def import_manifest(
    store: Store, manifest: Path, *, roots: ImportRoots | None = None, **kwargs: object
) -> ImportReport:
    """Import a CSV manifest with columns path,label[,person]; paths are relative to the CSV's folder and must
    stay inside it. Every file it names must lie inside `roots` (default: the settings' IMPORT_ROOTS policy), or
    nothing is imported; the manifest itself has passed `core.import_roots.check_import` in a dashboard import."""
    require(Permission.IMPORT)  # before reading the manifest
    roots = ImportRoots.or_settings(roots, store.settings)
    manifest = resolve_path(Path(manifest).expanduser())
    if manifest.is_dir():
        raise StudioError(f"{manifest} is a folder, not a manifest .csv file")
    base = resolve_path(manifest.parent)
    rows = list(csv.DictReader(manifest.open(newline="", encoding="utf-8")))
    if rows and "path" not in rows[0]:
        raise StudioError(f"{manifest}: needs a 'path' column (and optionally 'label' and 'person')")
    refused = [
        (line, row["path"])
        for line, row in enumerate(rows, start=2)
        if not roots.allows(base / (row.get("path") or ""))
    ]
    if refused:
        # A manifest that reaches outside is a probe or a mistake: refuse all of it rather than import a part.
        listed = "; ".join(f"line {line}: {path}" for line, path in refused[:5])
        more = f" and {len(refused) - 5} more" if len(refused) > 5 else ""
        raise PathNotAllowed(
            f"{manifest.name} names {len(refused)} file(s) outside the import folders ({listed}{more}); "
            f"nothing was imported. {roots.describe()}"
        )
    store.remove_stale_temp_files()  # a crashed earlier import may have left some
    report = ImportReport()

    def gen() -> Iterator[Incoming]:
        for line, row in enumerate(rows, start=2):
            label = (row.get("label") or "").strip()
            emotion = None
            if label:
                try:
                    emotion = normalize_label(label)
                except StudioError as exc:
                    report.warnings.append(f"{manifest.name}, line {line}: {exc}; imported unlabeled")
            read = read_file(row["path"], base / row["path"], base, store.settings)
            yield Incoming(
                row["path"],
                read.data,
                problem=read.problem,
                emotion=emotion,
                label_source="manifest" if emotion else None,
                person=(row.get("person") or "").strip() or None,
            )

    return import_items(store, gen(), total=len(rows), report=report, **kwargs)  # type: ignore[arg-type]


# ---- YOLO datasets -----------------------------------------------------------------------------------------------
def _box_crops(
    rgb: np.ndarray, item: YoloImage, name: str, split: str, emotions: list[str], *, pad: float, report: ImportReport
) -> list[Incoming]:
    """One labeled face crop per box of an image; boxes too small to hold a face are listed in the report."""
    if not item.boxes:
        report.warnings.append(f"{name}: no boxes in its label file")
    crops = []
    for box in item.boxes:
        crop: np.ndarray = crop_box(rgb, box.xyxy(), pad=pad)
        if min(crop.shape[:2]) < 8:
            report.skipped.append((f"{name}#{box.line}", "box smaller than 8 pixels"))
            continue
        emotion = emotions[box.class_id]
        crops.append(
            Incoming(
                f"{emotion}_{item.image_path.stem}_{box.line}.png",
                encode_png(crop),
                emotion=emotion,
                label_source="yolo",
                # Crops of one source image share a group, so grouped splits never separate them.
                person=f"yolo:{item.image_path.stem}",
                attributes={"yolo": {"file": name, "split": split, "line": box.line, "box": list(box.xyxy())}},
            )
        )
    return crops


def import_yolo(
    store: Store,
    root: Path,
    *,
    pad: float = 0.15,
    status: str | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> ImportReport:
    """Each labeled box of a YOLO dataset becomes a face-crop record (train split -> train, others -> test, unless
    `status` says otherwise: an evaluation suite's images are all "suite").
    Images with a malformed label file, unreadable or too large are skipped with their reason; DatasetFormatError
    only when no image is usable."""
    require(Permission.IMPORT)
    # A dashboard import's `root` has passed `core.import_roots.check_import`, which checks the whole tree: a label
    # file linked to /etc/passwd would otherwise be read and quoted in an error.
    folder = resolve_path(root)
    dataset = read_yolo_dataset(folder, strict=False)
    store.remove_stale_temp_files()  # a crashed earlier import may have left some
    report = ImportReport()
    report.skipped.extend(dataset.problems)  # bad label lines: their image is left out, every line is listed
    images = [(split, item) for split, items in dataset.splits.items() for item in items]
    for done, (split, item) in enumerate(images, start=1):
        if cancel is not None and cancel.is_set():
            report.cancelled = True
            break
        name = item.image_path.relative_to(dataset.root).as_posix()
        read = read_file(name, item.image_path, dataset.root, store.settings)
        try:
            if read.problem is not None:
                raise ImageNotReadable(read.problem)
            verify_image(read.data, store.settings.max_image_pixels)  # before OpenCV, which half-decodes a cut file
            rgb = decode_rgb(read.data, store.settings.max_image_pixels)
        except ImageNotReadable as exc:
            report.skipped.append((name, str(exc)))
            if progress is not None:
                progress(done, len(images))
            continue
        crops = _box_crops(rgb, item, name, split, dataset.emotions, pad=pad, report=report)
        report.merge(import_items(store, crops, status=status or (STATUS_TRAIN if split == "train" else STATUS_TEST)))
        if progress is not None:
            progress(done, len(images))
    return report
