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

from core.atomic import atomic_write_text
from core.errors import DatasetFormatError, ImageNotReadable
from core.executors.cluster import worker_settings
from core.executors.executor import executor_for
from core.imaging import TOO_LARGE, decode_rgb, verify_image
from core.inference import Recognizer, main_face
from core.labels import label_for_path, normalize_label
from core.landmarks.extractor import LandmarkExtractor
from core.progress import ProgressFn
from core.schema import EMOTIONS
from core.settings import Settings, get_settings
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


def problem_of(error: str) -> str:
    """The short reason of an error row, as the Data page puts it: "too large" (over MAX_IMAGE_PIXELS) or
    "unreadable" (corrupt, truncated, not an image, or the file could not be read)."""
    return "too large" if TOO_LARGE in error else "unreadable"


EVAL_CHUNK = 8


def evaluate_items(
    recognizer: Recognizer,
    items: Sequence[EvalItem],
    *,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    settings: Settings | None = None,
) -> EvalResult:
    """Predict every item (the largest face of each image); metrics over the labeled items that have a face.
    The items fan out over the executor's workers (`settings`, else the recognizer's), each holding the
    recognizer's model and its own landmarker."""
    settings = settings or (recognizer.extractor.settings if recognizer.extractor is not None else get_settings())
    total = len(items)
    if progress is not None:
        progress(0, total)
    # Files are read here and their bytes sent along (a folder or the Batch page's uploads need not be on a shared
    # disk); chunks are read as they are sent, so memory stays bounded. Rows come back in the items' order.
    starts = range(0, total, EVAL_CHUNK)
    positions = (range(s, min(s + EVAL_CHUNK, total)) for s in starts)
    chunks = ([(i, str(items[i].path), items[i].label, _read(items[i].path)) for i in pos] for pos in positions)
    done: dict[int, dict[str, Any]] = {}

    def collect(rows: list[tuple[int, dict[str, Any]]]) -> None:
        done.update(rows)
        if progress is not None:
            progress(len(done), total)

    cancelled = executor_for(settings).map_chunks(
        _EvalWorker,
        (recognizer.model, worker_settings(settings)),
        chunks,
        count=len(starts),
        on_result=collect,
        cancel=cancel,
    )
    rows = [done[i] for i in sorted(done)]
    no_face = [r["path"] for r in rows if not r["face_found"] and not r["error"]]
    errors = [(r["path"], r["error"]) for r in rows if r["error"]]
    frame = pd.DataFrame(rows, columns=PREDICTION_COLUMNS)
    return EvalResult(frame, no_face, errors, _metrics(frame), cancelled)


def _read(path: Path) -> bytes | str:
    """The file's bytes, or the message for a file that cannot be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        return f"cannot read file: {exc.strerror or exc}"


def _evaluate_one(recognizer: Recognizer, path: str, label: str | None, data: bytes | str) -> dict[str, Any]:
    """One prediction row; a bad file becomes an error row (one bad image must never end the run)."""
    row: dict[str, Any] = {
        "path": path,
        "label": label,
        "predicted": None,
        "confidence": None,
        "face_found": False,
        "error": data if isinstance(data, str) else "",
    }
    if isinstance(data, str):
        return row
    try:
        # As an import does: the whole file must decode (a truncated JPEG would half-decode into "no face") and its
        # pixels stay under MAX_IMAGE_PIXELS, so the row says "too large" or "unreadable", not "no face found".
        verify_image(data)
        best = main_face(recognizer.predict(decode_rgb(data)))
        if best is not None:
            row.update(predicted=best.emotion, confidence=round(best.confidence, 5), face_found=True)
    except ImageNotReadable as exc:
        row["error"] = str(exc)
    except Exception as exc:
        row["error"] = f"{type(exc).__name__}: {exc}"
    return row


EvalChunk = list[tuple[int, str, str | None, bytes | str]]  # (position, path, label, bytes or read error)


class _EvalWorker:
    """One worker's state (a pool process, a Ray actor, or this process): the model and one landmarker."""

    def __init__(self, model: Any, settings: Settings) -> None:
        self.extractor = LandmarkExtractor(settings, mode="image") if model.needs_landmarks else None
        self.recognizer = Recognizer(model, self.extractor)

    def run(self, chunk: EvalChunk) -> list[tuple[int, dict[str, Any]]]:
        return [(i, _evaluate_one(self.recognizer, path, label, data)) for i, path, label, data in chunk]

    def close(self) -> None:
        if self.extractor is not None:
            self.extractor.close()


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
