"""Batch testing of uploaded images (the seed's test_model.py): staging uploads and thumbnails.

The evaluation itself is `core.evaluation.evaluate_items`, shared with `python -m core evaluate`; the confusion
matrix figure is `core.viz.training.confusion_heatmap`, shared with the Train page.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from pathlib import Path, PurePath

import cv2
import numpy as np

from core.errors import ImageNotReadable, StudioError
from core.imaging import decode_rgb, limit_size
from core.ingest import safe_extract_zip
from core.schema import IMAGE_EXTENSIONS

_UNSAFE = re.compile(r"[^A-Za-z0-9._ -]+")


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


def stage_uploads(files: Sequence[tuple[str, bytes]], dest: Path) -> tuple[list[Path], list[tuple[str, str]]]:
    """Write uploaded images into `dest` and extract zips into `dest/<zip name>/` (labels come from file names and
    folders, as in `python -m core evaluate FOLDER`). Returns the staged image paths and the (name, reason) of
    every upload that was refused; one bad upload never stops the others."""
    dest.mkdir(parents=True, exist_ok=True)
    staged: list[Path] = []
    refused: list[tuple[str, str]] = []
    for name, data in files:
        safe = _safe_name(name)
        suffix = PurePath(safe).suffix.lower()
        if not data:
            refused.append((name, "the file is empty"))
        elif suffix == ".zip":
            folder = _unique(dest / PurePath(safe).stem)
            try:
                extracted, skipped = safe_extract_zip(data, folder)
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
