"""What every dataset layout shares: the Source and Layout types, manifest-like rows, folder helpers, class folders
named in words, and layouts whose file names say everything."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from core.ingest import Incoming, image_files, read_file
from core.schema import LABEL_MANIFEST, STATUS_TEST, STATUS_TRAIN
from core.settings import Settings

# CK+48 and FER2013's image folders name their classes in words (`anger`, `sadness`, `happy`).
FOLDER_WORDS = {
    "anger": "angry",
    "angry": "angry",
    "contempt": "contempt",
    "disgust": "disgust",
    "fear": "fear",
    "happy": "happy",
    "happiness": "happy",
    "neutral": "neutral",
    "sad": "sad",
    "sadness": "sad",
    "surprise": "surprise",
}  # fmt: skip


@dataclass(frozen=True)
class Source:
    """What a layout reads: how many rows (None when not known before reading) and the rows themselves."""

    total: int | None
    items: Iterator[Incoming]


@dataclass(frozen=True)
class Layout:
    name: str
    description: str
    detect: Callable[[Path], bool]
    read: Callable[[Path, Settings], Source]


def layout_row(name: str, read: Incoming, emotion: str | None, layout: str, **extra: object) -> Incoming:
    """A manifest-like row: the bytes `read` gave (or its problem), the label, the person and split if known."""
    person = extra.pop("person", None)
    status = extra.pop("status", None)
    return Incoming(
        name,
        read.data,
        problem=read.problem,
        emotion=emotion,
        label_source=LABEL_MANIFEST if emotion else None,
        person=f"{layout}:{person}" if person else None,
        status=str(status) if status else None,
        attributes={"layout": layout, **extra},
    )


def refused(name: str, reason: str) -> Incoming:
    return Incoming(name, b"", problem=reason)


def subdirs(path: Path) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(path) if e.is_dir(follow_symlinks=False))
    except OSError:
        return []


def split_of(parts: tuple[str, ...]) -> str | None:
    """train/test from a folder name on the way (`train/`, `Training/`, `test/`, `val/`, `PublicTest/`)."""
    for part in parts:
        low = part.lower()
        if low.startswith("train"):
            return STATUS_TRAIN
        if low.startswith(("test", "val", "publictest", "privatetest")):
            return STATUS_TEST
    return None


def class_folders(root: Path) -> list[Path]:
    """Folders below `root` (at most two levels: `train/happy`) named after an emotion in words."""
    out = []
    for top in subdirs(root):
        if top.lower() in FOLDER_WORDS:
            out.append(root / top)
        else:
            out.extend(root / top / sub for sub in subdirs(root / top) if sub.lower() in FOLDER_WORDS)
    return out


def count_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            count += chunk.count(b"\n")
    return count


def read_word_folders(root: Path, settings: Settings, layout: str, person: re.Pattern[str] | None) -> Source:
    """Class folders named in words (FER2013's train/test folders, CK+48): label from the folder, the split from a
    folder above it, the person from the file name where `person` matches it."""
    files = [(folder, f) for folder in class_folders(root) for f in image_files(folder)]

    def gen() -> Iterator[Incoming]:
        for folder, f in files:
            name = f.relative_to(root).as_posix()
            match = person.match(f.name) if person else None
            yield layout_row(
                name,
                read_file(name, f, root, settings),
                FOLDER_WORDS[folder.name.lower()],
                layout,
                person=match.group(1) if match else None,
                status=split_of(folder.relative_to(root).parts[:-1]),
            )

    return Source(len(files), gen())


def detect_by_name(pattern: re.Pattern[str]) -> Callable[[Path], bool]:
    def detect(path: Path) -> bool:
        files = image_files(path) if path.is_dir() else []
        return bool(files) and sum(bool(pattern.match(f.name)) for f in files) >= max(1, len(files) // 2)

    return detect


def read_named(
    path: Path, settings: Settings, layout: str, pattern: re.Pattern[str], parse: Callable[[re.Match[str]], dict]
) -> Source:
    files = image_files(path)

    def gen() -> Iterator[Incoming]:
        for f in files:
            name = f.relative_to(path).as_posix()
            match = pattern.match(f.name)
            fields = parse(match) if match else None
            if fields is None or fields.get("emotion") is None:
                yield refused(name, f"not a {layout} file name" if fields is None else fields["why"])
                continue
            emotion = fields.pop("emotion")
            yield layout_row(name, read_file(name, f, path, settings), emotion, layout, **fields)

    return Source(len(files), gen())
