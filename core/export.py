"""Export of the landmark table: `landmarks.csv` in the seed's layout (file, emotion, x0,y0,z0 ... x477,y477,z477),
with the 52 blendshape columns and record metadata appended, and the same table as Parquet."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from core.schema import BLENDSHAPE_COLUMNS, LANDMARK_COLUMNS
from core.store import Store
from core.store.repository import Filters

META_COLUMNS = ("image_id", "source", "status", "label_source", "person", "sha256")
FLOAT_FORMAT = "%.6g"  # six significant digits: MediaPipe's float32 coordinates lose nothing that matters


def landmark_table(store: Store, filters: Filters | None = None) -> pd.DataFrame:
    """One row per image with a face: file, emotion, landmark coordinates, blendshapes, then metadata."""
    faces = store.faces(filters)
    columns = ["file", "emotion", *LANDMARK_COLUMNS, *BLENDSHAPE_COLUMNS, *META_COLUMNS]
    if not faces:
        return pd.DataFrame(columns=columns)
    coords = np.stack([face.landmarks.reshape(-1) for _, face in faces])
    shapes = np.stack([face.blendshapes for _, face in faces])
    head = pd.DataFrame(
        {"file": [r.original_name or Path(r.path).name for r, _ in faces], "emotion": [r.emotion for r, _ in faces]}
    )
    meta = pd.DataFrame(
        {
            "image_id": [r.id for r, _ in faces],
            "source": [r.source for r, _ in faces],
            "status": [r.status for r, _ in faces],
            "label_source": [r.label_source for r, _ in faces],
            "person": [r.person for r, _ in faces],
            "sha256": [r.sha256 for r, _ in faces],
        }
    )
    body = pd.DataFrame(np.hstack([coords, shapes]), columns=[*LANDMARK_COLUMNS, *BLENDSHAPE_COLUMNS])
    return pd.concat([head, body, meta], axis=1)[columns]


def _atomic(path: Path, write: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    try:
        write(Path(tmp))  # type: ignore[operator]
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def export_csv(table: pd.DataFrame, path: Path) -> Path:
    """Write the table as CSV, atomically (a reader never sees half a file)."""
    return _atomic(Path(path), lambda tmp: table.to_csv(tmp, index=False, float_format=FLOAT_FORMAT))


def csv_bytes(table: pd.DataFrame) -> bytes:
    """The table as `export_csv` writes it, in memory (the Landmarks page's download)."""
    return table.to_csv(index=False, float_format=FLOAT_FORMAT).encode()


def export_parquet(table: pd.DataFrame, path: Path) -> Path:
    return _atomic(Path(path), lambda tmp: table.to_parquet(tmp, index=False))


def export_all(store: Store, folder: Path | None = None, filters: Filters | None = None) -> tuple[Path, Path, int]:
    """Write landmarks.csv and landmarks.parquet; returns both paths and the row count."""
    folder = Path(folder or store.settings.exports_dir)
    table = landmark_table(store, filters)
    return export_csv(table, folder / "landmarks.csv"), export_parquet(table, folder / "landmarks.parquet"), len(table)
