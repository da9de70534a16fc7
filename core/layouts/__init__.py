"""The public expression datasets' own layouts: FER2013, CK+, JAFFE, RAF-DB, AffectNet-style folders and KDEF.

People who train expression models already have these on disk; each layout here turns its files into the same rows a
manifest gives (label source `manifest`, a person id where the dataset has one, so person-grouped splits work, and
the train/test split where the dataset defines one). A bad row (an unknown code, a broken pixel string, an unreadable
file) is skipped with its reason; the rest of the dataset still imports. Files are read one at a time and the FER2013
CSV is streamed, so memory stays bounded whatever the dataset's size. Every file is resolved inside the dataset's
folder first: a symlink that leads outside is refused like in a folder import.

One module a layout (`fer2013`, `ckplus`, `jaffe`, `rafdb`, `affectnet`, `kdef`), each with its `detect` and `read`;
what they share is in `common`. This package's own names are the ones callers use.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

from core.auth import Permission, require
from core.errors import StudioError
from core.import_roots import ImportRoots, check_import
from core.ingest import ImportReport, import_items
from core.layouts import affectnet, ckplus, fer2013, jaffe, kdef, rafdb
from core.layouts.affectnet import AFFECTNET_CODES
from core.layouts.ckplus import CKPLUS_CODES
from core.layouts.common import FOLDER_WORDS, Layout, Source
from core.layouts.fer2013 import FER2013_CODES
from core.layouts.jaffe import JAFFE_CODES
from core.layouts.kdef import KDEF_CODES
from core.layouts.rafdb import RAFDB_CODES
from core.paths import resolve_path
from core.progress import ProgressFn
from core.store import Store

__all__ = [
    "AFFECTNET_CODES",
    "AUTO",
    "CKPLUS_CODES",
    "FER2013_CODES",
    "FOLDER_WORDS",
    "JAFFE_CODES",
    "KDEF_CODES",
    "LAYOUTS",
    "RAFDB_CODES",
    "Layout",
    "Source",
    "detect_layout",
    "import_layout",
    "known_layouts",
    "resolve_layout",
]

AUTO = "auto"

LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        Layout("fer2013", "FER2013: the CSV (emotion,pixels,Usage) or its train/test class folders",
               fer2013.detect, fer2013.read),
        Layout("ckplus", "CK+: cohn-kanade-images + Emotion folders (peak frames, one neutral a subject), or CK+48",
               ckplus.detect, ckplus.read),
        Layout("jaffe", "JAFFE: KA.AN1.39.tiff file names (person, expression)", jaffe.detect, jaffe.read),
        Layout("rafdb", "RAF-DB: train_00001.jpg images + EmoLabel/list_patition_label.txt (labels 1..7)",
               rafdb.detect, rafdb.read),
        Layout("affectnet", "AffectNet-style class-number folders 0..7 (neutral, happy, sad, surprise, fear, disgust, "
               "anger, contempt), optionally under train/ and val/", affectnet.detect, affectnet.read),
        Layout("kdef", "KDEF: AF01ANS.JPG file names (session, person, expression, angle)", kdef.detect, kdef.read),
    )
}  # fmt: skip


def known_layouts() -> str:
    return ", ".join(LAYOUTS)


def detect_layout(path: Path) -> str:
    """The one layout that `path` looks like; StudioError listing the known ones when none (or several) match.
    Order matters only for ties: RAF-DB's label list and CK+'s Emotion folder are stronger signs than folder names."""
    matches = [name for name, layout in LAYOUTS.items() if layout.detect(path)]
    for strong in ("rafdb", "ckplus"):
        if strong in matches:
            return strong
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise StudioError(f"{path} does not look like any known dataset layout; known layouts: {known_layouts()}")
    raise StudioError(f"{path} looks like several layouts ({', '.join(matches)}): name one with --layout")


def resolve_layout(path: Path, name: str) -> str:
    """`name` checked against the known layouts (`auto` detects it)."""
    if name == AUTO:
        return detect_layout(path)
    if name not in LAYOUTS:
        raise StudioError(f"unknown layout {name!r}; known layouts: {known_layouts()} (or {AUTO})")
    if not LAYOUTS[name].detect(path):
        raise StudioError(f"{path} does not look like a {name} dataset ({LAYOUTS[name].description})")
    return name


def check_layout_import(roots: ImportRoots, path: str | Path, layout: str) -> Path:
    """`core.import_roots.check_import` for a dataset folder, and then that the dataset fits `layout` (or, for
    `auto`, that one layout recognises it): what the Data page says at once, before it queues the import."""
    real = check_import(roots, path, "layout")
    resolve_layout(real, layout)
    return real


def import_layout(
    store: Store,
    path: Path,
    layout: str = AUTO,
    *,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
    status: str | None = None,
) -> ImportReport:
    """Import a public dataset in its own layout (a name of LAYOUTS, or `auto` to detect it). With `status` (an
    evaluation suite's test set) every image gets it, whatever the dataset's own split says. A dashboard import's
    `path` has passed `core.import_roots.check_import`."""
    require(Permission.IMPORT)
    path = resolve_path(path)
    if not path.exists():
        raise StudioError(f"{path} does not exist")
    name = resolve_layout(path, layout)
    store.remove_stale_temp_files()  # a crashed earlier import may have left some
    source = LAYOUTS[name].read(path, store.settings)
    items = source.items if status is None else (dataclasses.replace(item, status=None) for item in source.items)
    return import_items(store, items, total=source.total, status=status, progress=progress, cancel=cancel)
