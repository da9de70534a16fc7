"""The three dev sets' labeled faces as (image, label, group) rows, for the bench scripts that extract them once
(research data under shared/data, never committed)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from core.imaging import crop_box, decode_rgb
from core.labels import normalize_label
from core.schema import EMOTIONS

BOX_PAD = 0.15  # fer-yolo's boxes are tight around the face: padded like bench/train.py
Row = tuple[np.ndarray, str, str]  # (RGB image, emotion, group: person or original photo)


def yolo_rows(root: Path) -> list[Row]:
    """fer-yolo: each labeled box of the train and valid splits, cropped with BOX_PAD, grouped by original photo."""
    rows: list[Row] = []
    for split in ("train", "valid"):
        for img_path in sorted((root / split / "images").iterdir()):
            label_path = root / split / "labels" / (img_path.stem + ".txt")
            if not label_path.is_file():
                continue
            rgb = decode_rgb(img_path.read_bytes())
            group = img_path.name.split(".rf.")[0]
            for line in label_path.read_text().splitlines():
                parts = line.split()
                if len(parts) != 5:
                    continue
                cx, cy, w, h = (float(v) for v in parts[1:])
                box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
                rows.append((crop_box(rgb, box, pad=BOX_PAD), EMOTIONS[int(parts[0])], group))
    return rows


def manifest_rows(root: Path, group_prefix: str = "") -> list[Row]:
    """A set listed in manifest.csv (faces-dev, ckplus-dev): each image, grouped by person."""
    rows: list[Row] = []
    with (root / "manifest.csv").open(newline="") as fh:
        for rec in csv.DictReader(fh):
            rgb = decode_rgb((root / rec["path"]).read_bytes())
            rows.append((rgb, normalize_label(rec["label"]), group_prefix + rec["person"]))
    return rows


def dev_set_rows(name: str, root: Path, group_prefix: str = "") -> list[Row]:
    """The rows of dev set `name`, found at `root`."""
    return yolo_rows(root) if name == "fer-yolo" else manifest_rows(root, group_prefix)
