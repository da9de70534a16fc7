"""Tabular views of the store for pages and the CLI (metadata only; arrays stay in the store)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from core.records import FaceData
from core.schema import EXTRACTION_ERROR, EXTRACTION_NO_FACE, EXTRACTION_OK, EXTRACTION_PENDING
from core.store.repository import Filters, Store, face_from_row
from core.store.tables import ImageRecord

RECORD_COLUMNS = (
    "id",
    "file",
    "emotion",
    "source",
    "status",
    "label_source",
    "person",
    "width",
    "height",
    "landmarks",
    "faces",
    "notes",
    "created_at",
)


def record_row(r: ImageRecord) -> dict[str, object]:
    """One image as a table row: its record fields, its extraction state and the extraction's notes."""
    ext = r.extraction
    return {
        "id": r.id,
        "file": r.original_name or r.path,
        "emotion": r.emotion,
        "source": r.source,
        "status": r.status,
        "label_source": r.label_source,
        "person": r.person,
        "width": r.width,
        "height": r.height,
        "landmarks": ext.state if ext is not None else EXTRACTION_PENDING,
        "faces": ext.num_faces if ext is not None else None,
        "notes": ext.reason if ext is not None else "",
        "created_at": r.created_at,
    }


def record_table(store: Store, filters: Filters | None = None) -> pd.DataFrame:
    """One row per image (see `record_row`)."""
    return pd.DataFrame([record_row(r) for r in store.list_images(filters)], columns=list(RECORD_COLUMNS))


PROBLEM, NOTE = "problem", "note"
# The extraction states of problem images (no usable face), as a filter: `Filters(extraction_states=PROBLEM_STATES)`.
PROBLEM_STATES = (EXTRACTION_NO_FACE, EXTRACTION_ERROR)


def problem_table(store: Store) -> pd.DataFrame:
    """Images whose extraction failed or found no face (kind "problem": the image is not usable), then images that
    were used but carry a note (kind "note": padded tight crop, downscaled, several faces). Problems first."""
    table = record_table(store)
    columns = ["kind", "id", "file", "emotion", "landmarks", "faces", "notes"]
    if table.empty:
        return pd.DataFrame(columns=columns)
    failed = (table["landmarks"] != EXTRACTION_OK) & (table["landmarks"] != EXTRACTION_PENDING)
    noted = ~failed & (table["notes"].fillna("") != "")
    table["kind"] = np.where(failed, PROBLEM, NOTE)
    out = pd.concat([table.loc[failed], table.loc[noted]])
    return out.loc[:, columns].reset_index(drop=True)


WHY = {
    "filename": "emotion tag in the file name",
    "folder": "emotion from the folder name",
    "human": "label chosen on upload",
    "manifest": "label from the manifest",
    "yolo": "class of the YOLO box",
}


def placement_table(store: Store, image_ids: Sequence[int]) -> pd.DataFrame:
    """Where each newly imported image went and why: labeled into training, or into the unlabeled pool."""
    rows = []
    for image_id in image_ids:
        r = store.get(image_id)
        if r is None:
            continue
        if r.emotion:
            where, why = f"training data: {r.emotion}", WHY.get(r.label_source or "", r.label_source or "")
        else:
            where, why = "unlabeled pool", "no emotion in the file or folder name and no label chosen"
        rows.append({"file": r.original_name or r.path, "went to": where, "why": why})
    return pd.DataFrame(rows, columns=["file", "went to", "why"])


def stored_face(store: Store, image_id: int) -> tuple[ImageRecord, FaceData] | None:
    """An image's record and its face's arrays; None when it is gone or has no landmarks (any more)."""
    record = store.get(image_id)
    if record is None or record.extraction is None:
        return None
    face = face_from_row(record.extraction)
    return None if face is None else (record, face)
