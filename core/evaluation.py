"""Evaluation of a model on labeled image files: a folder (labels from file names or folders) or a manifest CSV.

Shared by `python -m core evaluate` and the Batch test page. A corrupt or non-image file becomes an error row and a
face-less image a no-face row; neither stops the run.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import DatasetFormatError, ImageNotReadable
from core.imaging import decode_rgb
from core.inference import Recognizer
from core.labels import label_for_path, normalize_label
from core.progress import ProgressFn
from core.schema import EMOTIONS
from core.store.files import atomic_write_text
from core.training.report import classification_metrics

_SIDE_FILES = frozenset({".csv", ".txt", ".json", ".md", ".yaml", ".yml", ".npz", ".db"})
PREDICTION_COLUMNS = ["path", "label", "predicted", "confidence", "face_found", "error"]


@dataclass
class EvalItem:
    path: Path
    label: str | None


@dataclass
class EvalResult:
    predictions: pd.DataFrame  # PREDICTION_COLUMNS, one row per item
    no_face: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, message)
    metrics: dict[str, Any] | None = None  # accuracy, macro_f1, labels, confusion_matrix, per_class
    cancelled: bool = False

    def to_csv(self, path: Path) -> None:
        """Write the predictions CSV atomically."""
        atomic_write_text(Path(path), self.predictions.to_csv(index=False))


def items_from_path(path: Path) -> list[EvalItem]:
    """Items of a folder (recursively; labels from the file-name tag or the parent folder) or of a manifest CSV with
    columns path,label (paths relative to the CSV; an empty label means unlabeled)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        items = []
        for file in files:
            # Side files are skipped; any other file is kept even with an odd extension, so that a broken or
            # misnamed image is reported as an error row instead of silently vanishing from the count.
            if file.suffix.lower() in _SIDE_FILES:
                continue
            items.append(EvalItem(file, label_for_path(file.relative_to(path)).emotion))
        return items
    if path.is_file() and path.suffix.lower() == ".csv":
        return _manifest_items(path)
    if not path.exists():
        raise DatasetFormatError(f"{path} does not exist")
    raise DatasetFormatError(f"{path} is neither a folder of images nor a manifest .csv (path,label)")


def _manifest_items(path: Path) -> list[EvalItem]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = [c.strip().lower() for c in reader.fieldnames or []]
            if "path" not in columns:
                raise DatasetFormatError(f"{path}: the header must name a 'path' column (and 'label'); got {columns}")
            items = []
            for line, row in enumerate(reader, start=2):
                row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
                if not row.get("path"):
                    raise DatasetFormatError(f"{path}, line {line}: empty path")
                raw = row.get("label", "")
                try:
                    label = normalize_label(raw) if raw else None
                except ValueError as exc:
                    raise DatasetFormatError(f"{path}, line {line}: {exc}") from exc
                items.append(EvalItem(path.parent / row["path"], label))
            return items
    except UnicodeDecodeError as exc:
        raise DatasetFormatError(f"{path} is not a UTF-8 CSV file") from exc


def evaluate_items(
    recognizer: Recognizer,
    items: Sequence[EvalItem],
    *,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> EvalResult:
    """Predict every item (the largest face of each image); metrics over the labeled items that have a face."""
    rows: list[dict[str, Any]] = []
    no_face: list[str] = []
    errors: list[tuple[str, str]] = []
    cancelled = False
    total = len(items)
    if progress is not None:
        progress(0, total)
    for done, item in enumerate(items, start=1):
        if cancel is not None and cancel.is_set():
            cancelled = True
            break
        row: dict[str, Any] = {
            "path": str(item.path),
            "label": item.label,
            "predicted": None,
            "confidence": None,
            "face_found": False,
            "error": "",
        }
        try:
            rgb = decode_rgb(item.path.read_bytes())
            faces = recognizer.predict(rgb)
            if faces:
                best = max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))
                row.update(predicted=best.emotion, confidence=round(best.confidence, 5), face_found=True)
            else:
                no_face.append(str(item.path))
        except OSError as exc:
            row["error"] = f"cannot read file: {exc.strerror or exc}"
        except ImageNotReadable as exc:
            row["error"] = str(exc)
        except Exception as exc:  # one bad image must never end the run
            row["error"] = f"{type(exc).__name__}: {exc}"
        if row["error"]:
            errors.append((str(item.path), row["error"]))
        rows.append(row)
        if progress is not None:
            progress(done, total)
    frame = pd.DataFrame(rows, columns=PREDICTION_COLUMNS)
    return EvalResult(frame, no_face, errors, _metrics(frame), cancelled)


def _metrics(frame: pd.DataFrame) -> dict[str, Any] | None:
    scored = frame[frame["face_found"] & frame["label"].notna()] if len(frame) else frame
    if scored.empty:
        return None
    truth = scored["label"].astype(str).tolist()
    predicted = scored["predicted"].astype(str).tolist()
    present = set(truth) | set(predicted)
    labels = [e for e in EMOTIONS if e in present]
    out = classification_metrics(truth, predicted, labels)
    out["n_scored"] = len(scored)
    return out
