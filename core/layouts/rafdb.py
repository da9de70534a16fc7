"""RAF-DB: train_00001.jpg images (or their _aligned versions) and EmoLabel/list_patition_label.txt (labels 1..7),
the list streamed line by line."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from core.ingest import Incoming, image_files, read_file
from core.layouts.common import Source, count_lines, layout_row, refused
from core.schema import STATUS_TEST, STATUS_TRAIN
from core.settings import Settings

RAFDB_CODES = {1: "surprise", 2: "fear", 3: "disgust", 4: "happy", 5: "sad", 6: "angry", 7: "neutral"}
RAF_NAME = re.compile(r"^(train|test)_(\d+)(?:_aligned)?$")


def _raf_list(path: Path) -> Path | None:
    for base in (path, path / "EmoLabel", path / "basic" / "EmoLabel"):
        for name in ("list_patition_label.txt", "list_partition_label.txt"):
            if (base / name).is_file():
                return base / name
    return None


def detect(path: Path) -> bool:
    return path.is_dir() and _raf_list(path) is not None


def read(path: Path, settings: Settings) -> Source:
    listing = _raf_list(path)
    assert listing is not None
    # `train_00001.jpg` in the list may be stored as train_00001_aligned.jpg (the aligned set): index files by key.
    files: dict[str, Path] = {}
    for f in image_files(path):
        match = RAF_NAME.match(f.stem)
        if match:
            files.setdefault(f"{match.group(1)}_{match.group(2)}", f)
    total = count_lines(listing)

    def gen() -> Iterator[Incoming]:
        with listing.open(encoding="utf-8", errors="replace") as fh:
            for number, line in enumerate(fh, start=1):
                parts = line.split()
                if not parts:
                    continue
                where = f"{listing.name}, line {number}"
                match = RAF_NAME.match(Path(parts[0]).stem) if len(parts) == 2 else None
                if match is None or not parts[1].isdigit() or int(parts[1]) not in RAFDB_CODES:
                    yield refused(where, f"expected 'train_00001.jpg N' with N in 1..7: {line.strip()!r}")
                    continue
                f = files.get(f"{match.group(1)}_{match.group(2)}")
                if f is None:
                    yield refused(where, f"no image file for {parts[0]}")
                    continue
                name = f.relative_to(path).as_posix()
                yield layout_row(
                    name,
                    read_file(name, f, path, settings),
                    RAFDB_CODES[int(parts[1])],
                    "rafdb",
                    status=STATUS_TRAIN if match.group(1) == "train" else STATUS_TEST,
                )

    return Source(total, gen())
