"""Importing images into the store: uploads, zip archives, folders, manifests and YOLO datasets.

Labels come from the seed's file-name tag (`happy_0042.jpg`), else the parent folder's name, else nothing (the image
goes to the unlabeled pool). One bad file never stops an import: it is listed in the report with its reason.
"""

from __future__ import annotations

import csv
import io
import threading
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np

from core.errors import ImageNotReadable, StudioError, UnsafeArchive
from core.imaging import crop_box, decode_rgb, encode_png
from core.labels import label_for_path, normalize_label
from core.schema import IMAGE_EXTENSIONS
from core.store import Store
from core.yolo import read_yolo_dataset

ProgressFn = Callable[[int, int], None]

MAX_ZIP_MEMBERS = 100_000
MAX_ZIP_BYTES = 4 * 1024**3  # uncompressed: refuse zip bombs before reading them


@dataclass
class ImportReport:
    added: int = 0
    duplicates: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, reason)
    warnings: list[str] = field(default_factory=list)
    image_ids: list[int] = field(default_factory=list)
    cancelled: bool = False

    @property
    def total(self) -> int:
        return self.added + self.duplicates + len(self.skipped)

    def summary(self) -> str:
        text = f"{self.added} added, {self.duplicates} already in the store, {len(self.skipped)} skipped"
        return text + (" (cancelled)" if self.cancelled else "")


@dataclass(frozen=True)
class Incoming:
    """One file to import: a name (relative path, used for its label) and its bytes."""

    name: str
    data: bytes
    emotion: str | None = None
    label_source: str | None = None
    person: str | None = None
    attributes: dict[str, object] | None = None


def _is_image_name(name: str) -> bool:
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
        try:
            result = store.add_image(
                item.data,
                original_name=item.name,
                source=source,
                emotion=emotion,
                label_source=label_source,
                status=status,
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
        if progress is not None:
            progress(done, max(count, done))
    return report


# ---- zip archives ------------------------------------------------------------------------------------------------
def _check_members(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    members = archive.infolist()
    if len(members) > MAX_ZIP_MEMBERS:
        raise UnsafeArchive(f"the archive has {len(members)} members; at most {MAX_ZIP_MEMBERS} are accepted")
    if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
        raise UnsafeArchive("the archive expands to more than 4 GiB; refusing it")
    for member in members:
        name = member.filename.replace("\\", "/")
        parts = PurePosixPath(name).parts
        if name.startswith("/") or (len(name) > 1 and name[1] == ":") or ".." in parts:
            raise UnsafeArchive(f"refusing the archive: member {member.filename!r} would be written outside the folder")
    return members


def _open_zip(data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ImageNotReadable("not a valid .zip archive") from exc


def iter_zip(data: bytes) -> tuple[int, Iterator[Incoming], list[tuple[str, str]]]:
    """Image members of a zip (count, iterator, skipped non-images). Refuses `../` and absolute member paths."""
    archive = _open_zip(data)
    members = _check_members(archive)
    images = [m for m in members if not m.is_dir() and _is_image_name(m.filename) and "__MACOSX" not in m.filename]
    skipped = [
        (m.filename, "not an image file name")
        for m in members
        if not m.is_dir() and m not in images and not PurePosixPath(m.filename).name.startswith(".")
    ]

    def gen() -> Iterator[Incoming]:
        with archive:
            for member in images:
                try:
                    payload = archive.read(member)
                except (zipfile.BadZipFile, OSError, RuntimeError) as exc:
                    payload = b""
                    skipped.append((member.filename, f"unreadable archive member: {exc}"))
                    continue
                yield Incoming(member.filename, payload)

    return len(images), gen(), skipped


def safe_extract_zip(data: bytes, dest: Path) -> list[Path]:
    """Extract a zip's image members under `dest` (checked first: no `../`, no absolute paths). Returns their paths."""
    _, members, _ = iter_zip(data)
    out = []
    dest = Path(dest)
    for item in members:
        target = (dest / item.name).resolve()
        if not target.is_relative_to(dest.resolve()):  # belt and braces after _check_members
            raise UnsafeArchive(f"member {item.name!r} escapes the destination")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(item.data)
        out.append(target)
    return out


def import_zip(store: Store, data: bytes, **kwargs: object) -> ImportReport:
    """Import the images of a zip archive; labels from member names and folders inside the archive."""
    count, members, skipped = iter_zip(data)
    report = ImportReport()
    import_items(store, members, total=count, report=report, **kwargs)  # type: ignore[arg-type]
    report.skipped.extend(skipped)
    return report


# ---- folders and manifests ---------------------------------------------------------------------------------------
def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def import_folder(store: Store, root: Path, **kwargs: object) -> ImportReport:
    """Import every image below `root`; labels from file-name tags, then the parent folder (relative to root)."""
    root = Path(root)
    if not root.is_dir():
        raise StudioError(f"{root} is not a folder")
    files = sorted(p for p in root.rglob("*") if p.is_file() and _is_image_name(p.name))
    items = (Incoming(p.relative_to(root).as_posix(), _read_file(p)) for p in files)
    return import_items(store, items, total=len(files), **kwargs)  # type: ignore[arg-type]


def import_manifest(store: Store, manifest: Path, **kwargs: object) -> ImportReport:
    """Import a CSV manifest with columns path,label[,person]; paths are relative to the CSV's folder."""
    manifest = Path(manifest)
    if manifest.is_dir():
        raise StudioError(f"{manifest} is a folder: import it as a folder, or give the path of a manifest .csv file")
    base = manifest.parent
    rows = list(csv.DictReader(manifest.open(newline="", encoding="utf-8")))
    if rows and "path" not in rows[0]:
        raise StudioError(f"{manifest}: needs a 'path' column (and optionally 'label' and 'person')")
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
            path = base / row["path"]
            yield Incoming(
                row["path"],
                _read_file(path),
                emotion=emotion,
                label_source="manifest" if emotion else None,
                person=(row.get("person") or "").strip() or None,
            )

    return import_items(store, gen(), total=len(rows), report=report, **kwargs)  # type: ignore[arg-type]


# ---- YOLO datasets -----------------------------------------------------------------------------------------------
def import_yolo(
    store: Store,
    root: Path,
    *,
    pad: float = 0.15,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> ImportReport:
    """Each labeled box of a YOLO dataset becomes a face-crop record (train split -> train, others -> test)."""
    dataset = read_yolo_dataset(Path(root))
    report = ImportReport()
    images = [(split, item) for split, items in dataset.splits.items() for item in items]
    for done, (split, item) in enumerate(images, start=1):
        if cancel is not None and cancel.is_set():
            report.cancelled = True
            break
        name = item.image_path.relative_to(dataset.root).as_posix()
        try:
            rgb = decode_rgb(_read_file(item.image_path))
        except ImageNotReadable as exc:
            report.skipped.append((name, str(exc)))
            if progress is not None:
                progress(done, len(images))
            continue
        if not item.boxes:
            report.warnings.append(f"{name}: no boxes in its label file")
        crops = []
        for box in item.boxes:
            crop: np.ndarray = crop_box(rgb, box.xyxy(), pad=pad)
            if min(crop.shape[:2]) < 8:
                report.skipped.append((f"{name}#{box.line}", "box smaller than 8 pixels"))
                continue
            emotion = dataset.emotions[box.class_id]
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
        sub = import_items(store, crops, status="train" if split == "train" else "test")
        report.added += sub.added
        report.duplicates += sub.duplicates
        report.skipped.extend(sub.skipped)
        report.image_ids.extend(sub.image_ids)
        if progress is not None:
            progress(done, len(images))
    return report
