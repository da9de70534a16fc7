"""AffectNet-style class-number folders 0..7 (8..10 are not expressions), optionally under train/ and val/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from core.ingest import Incoming, image_files, read_file
from core.layouts.common import Source, layout_row, refused, split_of, subdirs
from core.settings import Settings

AFFECTNET_CODES = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "angry", "contempt")  # 0..7


def _number_folders(root: Path) -> list[Path]:
    out = []
    for top in subdirs(root):
        if top.isdigit():
            out.append(root / top)
        else:
            out.extend(root / top / sub for sub in subdirs(root / top) if sub.isdigit())
    return out


def detect(path: Path) -> bool:
    folders = _number_folders(path) if path.is_dir() else []
    return bool(folders) and all(0 <= int(f.name) <= 10 for f in folders)


def read(path: Path, settings: Settings) -> Source:
    folders = _number_folders(path)
    files = [(folder, f) for folder in folders for f in image_files(folder)]

    def gen() -> Iterator[Incoming]:
        for folder, f in files:
            name = f.relative_to(path).as_posix()
            code = int(folder.name)
            if code >= len(AFFECTNET_CODES):  # 8 none, 9 uncertain, 10 no face
                yield refused(name, f"class {code} is not an expression (AffectNet's 8..10: none, uncertain, no face)")
                continue
            status = split_of(folder.relative_to(path).parts[:-1])
            yield layout_row(
                name, read_file(name, f, path, settings), AFFECTNET_CODES[code], "affectnet", status=status
            )

    return Source(len(files), gen())
