"""Batch testing of uploaded images (the seed's test_model.py): staging uploads and thumbnails.

The page stages the uploads into their own folder under the data root (`DATA_ROOT/uploads/<id>/`, moved there in one
rename once complete) and submits a job on it; the worker evaluates that folder and removes it when the job ends.
Folders no unfinished job refers to are swept by the workers after `STAGING_GRACE_S`.

The evaluation itself is `core.evaluation.evaluate_items`, shared with `python -m core evaluate`; the confusion
matrix figure is `core.viz.training.confusion_heatmap`, shared with the Train page.
"""

from __future__ import annotations

import base64
import logging
import re
import shutil
import time
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

import cv2
import numpy as np

from core.archives import ZipLimits, safe_extract_zip
from core.errors import ImageNotReadable, StudioError
from core.imaging import decode_rgb, limit_size
from core.schema import IMAGE_EXTENSIONS
from core.settings import Settings

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")
UPLOAD_ID = re.compile(r"^[0-9a-f]{32}$")
# A staged folder that no queued or running job refers to is removed once this old: long enough for a page to
# stage and submit (or for a queued job to be cancelled), short enough that abandoned uploads do not pile up.
STAGING_GRACE_S = 3600.0
_MB = 1024 * 1024


def _safe_name(name: str) -> str:
    """A plain file name from an upload's name: no folders, no odd characters (the emotion tag at the start stays)."""
    base = _UNSAFE.sub("_", PurePath(name.replace("\\", "/")).name).strip(" .")
    return base or "upload"


def _unique(path: Path) -> Path:
    # Suffix after the stem, so that a file-name label such as `happy_...` still leads the name.
    n = 2
    candidate = path
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        n += 1
    return candidate


def stage_uploads(
    files: Sequence[tuple[str, bytes]], dest: Path, settings: Settings | None = None
) -> tuple[list[Path], list[tuple[str, str]]]:
    """Write uploaded images into `dest` and extract zips into `dest/<zip name>/` (labels come from file names and
    folders, as in `python -m core evaluate FOLDER`). Returns the staged image paths and the (name, reason) of
    every upload that was refused; one bad upload never stops the others. With `settings`, an image larger than
    IMPORT_MAX_FILE_MB and zips beyond the import limits are refused as in an import."""
    dest.mkdir(parents=True, exist_ok=True)
    staged: list[Path] = []
    refused: list[tuple[str, str]] = []
    limits = ZipLimits.from_settings(settings) if settings is not None else None
    for name, data in files:
        safe = _safe_name(name)
        suffix = PurePath(safe).suffix.lower()
        if not data:
            refused.append((name, "the file is empty"))
        elif settings is not None and suffix != ".zip" and len(data) > settings.import_max_file_mb * _MB:
            refused.append((name, f"larger than {settings.import_max_file_mb:g} MB (IMPORT_MAX_FILE_MB)"))
        elif suffix == ".zip":
            folder = _unique(dest / PurePath(safe).stem)
            try:
                extracted, skipped = safe_extract_zip(data, folder, limits)
            except StudioError as exc:
                refused.append((name, str(exc)))
                continue
            refused.extend((f"{name}/{member}", reason) for member, reason in skipped)
            if not extracted:
                refused.append((name, "the archive holds no image files"))
            staged.extend(extracted)
        elif suffix in IMAGE_EXTENSIONS:
            target = _unique(dest / safe)
            target.write_bytes(data)
            staged.append(target)
        else:
            refused.append((name, f"not an image or .zip ({suffix or 'no extension'})"))
    return staged, refused


@dataclass(frozen=True)
class StagedUpload:
    upload_id: str
    folder: Path
    staged: list[Path]
    refused: list[tuple[str, str]]


def uploads_root(settings: Settings) -> Path:
    return settings.data_root / "uploads"


def upload_folder(settings: Settings, upload_id: str) -> Path:
    """The staged folder of `upload_id` (an id that is not one of ours is refused: no path ever comes from it)."""
    if not UPLOAD_ID.match(upload_id):
        raise StudioError(f"not an upload id: {upload_id!r}")
    return uploads_root(settings) / upload_id


def stage_upload_folder(files: Sequence[tuple[str, bytes]], settings: Settings) -> StagedUpload:
    """Stage uploads into a new folder of their own under the data root for a Batch test job. The folder appears
    complete or not at all (written under a hidden name, then renamed); with nothing usable it is removed."""
    upload_id = uuid.uuid4().hex
    final = upload_folder(settings, upload_id)
    partial = final.with_name(f".{upload_id}.partial")
    try:
        staged, refused = stage_uploads(files, partial, settings)
        if staged:
            partial.rename(final)
            staged = [final / p.relative_to(partial) for p in staged]
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return StagedUpload(upload_id, final, staged, refused)


def remove_upload(settings: Settings, upload_id: str) -> None:
    shutil.rmtree(upload_folder(settings, upload_id), ignore_errors=True)


def sweep_uploads(settings: Settings, keep: Collection[str], *, older_than_s: float = STAGING_GRACE_S) -> list[str]:
    """Remove staged folders (and half-written ones) older than `older_than_s` that are not in `keep` (the upload
    ids of queued and running jobs). Returns the names removed."""
    root = uploads_root(settings)
    if not root.is_dir():
        return []
    cutoff = time.time() - older_than_s
    removed = []
    for entry in root.iterdir():
        if entry.name in keep or not entry.is_dir():
            continue
        try:
            if entry.stat().st_mtime > cutoff:
                continue
        except FileNotFoundError:
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry.name)
    if removed:
        log.info("removed %d stale Batch test upload folder(s) under %s", len(removed), root)
    return removed


def thumbnail_uri(path: Path, size: int = 72) -> str | None:
    """A small JPEG `data:` URI of an image for table thumbnails; None when the file cannot be decoded."""
    try:
        rgb = decode_rgb(Path(path).read_bytes())
    except (OSError, ImageNotReadable):
        return None
    small, _ = limit_size(rgb, size)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(np.ascontiguousarray(small), cv2.COLOR_RGB2BGR))
    if not ok:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")
