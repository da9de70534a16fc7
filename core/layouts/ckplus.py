"""CK+: the original release (cohn-kanade-images + Emotion folders: each sequence's peak frame, and one neutral
first frame a subject), or CK+48's class folders of cropped frames."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from core.ingest import Incoming, image_files, read_file
from core.layouts.common import FOLDER_WORDS, Source, layout_row, read_word_folders, refused, subdirs
from core.paths import resolve_inside
from core.settings import Settings

CKPLUS_CODES = ("neutral", "angry", "contempt", "disgust", "fear", "happy", "sad", "surprise")  # 0..7
CK_SUBJECT = re.compile(r"^(S\d+)_(\d+)_(\d+)")


def _ck_dirs(root: Path) -> tuple[Path, Path] | None:
    """(images folder, Emotion folder) of the original CK+ release, at the root or one folder down."""
    for base in (root, *(root / d for d in subdirs(root))):
        names = {n.lower(): n for n in subdirs(base)}
        if "emotion" in names and "cohn-kanade-images" in names:
            return base / names["cohn-kanade-images"], base / names["emotion"]
    return None


def detect(path: Path) -> bool:
    if not path.is_dir():
        return False
    if _ck_dirs(path) is not None:
        return True
    folders = [d for d in subdirs(path) if d.lower() in FOLDER_WORDS]
    return bool(folders) and any(CK_SUBJECT.match(f.name) for d in folders for f in image_files(path / d)[:5])


def read(path: Path, settings: Settings) -> Source:
    dirs = _ck_dirs(path)
    if dirs is None:  # CK+48: class folders of cropped frames named S010_004_00000017.png
        return read_word_folders(path, settings, "ckplus", person=CK_SUBJECT)
    images, emotions = dirs
    labels = sorted(p for p in emotions.rglob("*_emotion.txt"))

    def gen() -> Iterator[Incoming]:
        neutral_done: set[str] = set()
        for label_file in labels:
            rel = label_file.relative_to(emotions)
            name = rel.as_posix()
            real = resolve_inside(path, label_file)
            try:
                if real is None:
                    raise ValueError("it lies outside the dataset folder")
                code = int(float(real.read_text(encoding="utf-8").split()[0]))
                if not 0 <= code < len(CKPLUS_CODES):
                    raise ValueError(f"code {code} is not one of CK+'s 0..7")
            except (OSError, UnicodeDecodeError, ValueError, IndexError) as exc:
                yield refused(name, f"unreadable emotion file: {exc}")
                continue
            frame = label_file.name[: -len("_emotion.txt")]
            sequence = images / rel.parent
            peak = next((p for p in image_files(sequence) if p.stem == frame), None) if sequence.is_dir() else None
            subject = rel.parts[0]
            if peak is None:
                yield refused(name, f"no image {frame}.* in {sequence.relative_to(path).as_posix()}")
                continue
            peak_name = peak.relative_to(path).as_posix()
            yield layout_row(
                peak_name,
                read_file(peak_name, peak, path, settings),
                CKPLUS_CODES[code],
                "ckplus",
                person=subject,
                sequence=rel.parent.as_posix(),
            )
            # The first frame of a sequence is the subject's neutral face: one per subject keeps the classes fair.
            if subject not in neutral_done:
                neutral_done.add(subject)
                first = image_files(sequence)[0]
                first_name = first.relative_to(path).as_posix()
                yield layout_row(
                    first_name,
                    read_file(first_name, first, path, settings),
                    "neutral",
                    "ckplus",
                    person=subject,
                    sequence=rel.parent.as_posix(),
                )

    return Source(None, gen())
