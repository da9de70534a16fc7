"""FER2013: the CSV (emotion, pixels, Usage), streamed row by row, or its train/test class folders."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from core.imaging import encode_png
from core.ingest import Incoming
from core.layouts.common import (
    FOLDER_WORDS,
    Source,
    count_lines,
    layout_row,
    read_word_folders,
    refused,
    split_of,
    subdirs,
)
from core.settings import Settings

FER2013_CODES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")  # 0..6
FER_PIXELS = 48 * 48


def _fer_csv(path: Path) -> Path | None:
    if path.is_file():
        return path if path.suffix.lower() == ".csv" else None
    for name in ("fer2013.csv", "icml_face_data.csv", "train.csv"):
        if (path / name).is_file():
            return path / name
    return None


def _fer_header(csv_path: Path) -> list[str]:
    try:
        with csv_path.open(newline="", encoding="utf-8") as fh:
            return [h.strip().lower() for h in next(csv.reader(fh), [])]
    except (OSError, UnicodeDecodeError):
        return []


def detect(path: Path) -> bool:
    csv_path = _fer_csv(path)
    if csv_path is not None:
        return {"emotion", "pixels"} <= set(_fer_header(csv_path))
    splits = [d for d in subdirs(path) if d.lower() in ("train", "test")]
    classes = [{s.lower() for s in subdirs(path / d)} for d in splits]
    return any(classes) and all(c <= set(FOLDER_WORDS) for c in classes)


def _fer_rows(csv_path: Path) -> Iterator[Incoming]:
    with csv_path.open(newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.reader(fh)
        header = [h.strip().lower() for h in next(reader, [])]
        col = {h: i for i, h in enumerate(header)}
        for line, row in enumerate(reader, start=2):
            name = f"{csv_path.name}#line{line}"
            try:
                code = int(row[col["emotion"]])
                pixels = np.array(row[col["pixels"]].split(), dtype=np.int64)
            except (IndexError, ValueError):
                yield refused(name, "expected an emotion number and a pixels column of numbers")
                continue
            if not 0 <= code < len(FER2013_CODES):
                yield refused(name, f"emotion {code} is not one of FER2013's 0..6")
                continue
            if pixels.size != FER_PIXELS or pixels.min() < 0 or pixels.max() > 255:
                yield refused(name, f"expected {FER_PIXELS} pixel values 0..255, found {pixels.size}")
                continue
            usage = row[col["usage"]] if "usage" in col and len(row) > col["usage"] else ""
            image = encode_png(np.repeat(pixels.astype(np.uint8).reshape(48, 48, 1), 3, axis=2))
            status = split_of((usage,)) if usage else None
            yield layout_row(name, Incoming(name, image), FER2013_CODES[code], "fer2013", status=status, usage=usage)


def read(path: Path, settings: Settings) -> Source:
    csv_path = _fer_csv(path)
    if csv_path is not None:
        return Source(max(0, count_lines(csv_path) - 1), _fer_rows(csv_path))
    return read_word_folders(path, settings, "fer2013", person=None)
