"""Tabular views of the store for pages and the CLI (metadata only; arrays stay in the store)."""

from __future__ import annotations

import pandas as pd

from core.schema import EXTRACTION_OK, EXTRACTION_PENDING
from core.store.repository import Filters, Store

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


def record_table(store: Store, filters: Filters | None = None) -> pd.DataFrame:
    """One row per image: its record fields, its extraction state and the extraction's notes."""
    rows = []
    for r in store.list_images(filters):
        ext = r.extraction
        rows.append(
            {
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
        )
    return pd.DataFrame(rows, columns=list(RECORD_COLUMNS))


def problem_table(store: Store) -> pd.DataFrame:
    """Images whose extraction failed, found no face, or carries a note (padded, downscaled, several faces)."""
    table = record_table(store)
    if table.empty:
        return table
    mask = (table["landmarks"] != EXTRACTION_OK) & (table["landmarks"] != EXTRACTION_PENDING) | (
        table["notes"].fillna("") != ""
    )
    return table.loc[mask, ["id", "file", "emotion", "landmarks", "faces", "notes"]]
