"""What a path on the server is imported as (a folder, manifest CSV, YOLO dataset, .zip or public dataset layout):
shared by the import job (core.import_job) and the suites (core.suites.manage), without either importing the other."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

ImportKind = Literal["folder", "manifest", "yolo", "zip", "layout"]


def import_kind_of(path: Path, *, yolo: bool = False, layout: str | None = None) -> ImportKind:
    """What a path is imported as: a YOLO dataset or a public layout when asked, else by its suffix (.zip, .csv),
    else a folder."""
    if layout is not None:
        return "layout"
    if yolo:
        return "yolo"
    return {".zip": "zip", ".csv": "manifest"}.get(path.suffix.lower(), "folder")  # type: ignore[return-value]
