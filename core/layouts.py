"""The public expression datasets' own layouts: FER2013, CK+, JAFFE, RAF-DB, AffectNet-style folders and KDEF.

People who train expression models already have these on disk; each layout here turns its files into the same rows a
manifest gives (label source `manifest`, a person id where the dataset has one, so person-grouped splits work, and
the train/test split where the dataset defines one). A bad row (an unknown code, a broken pixel string, an unreadable
file) is skipped with its reason; the rest of the dataset still imports. Files are read one at a time and the FER2013
CSV is streamed, so memory stays bounded whatever the dataset's size. Every file is resolved inside the dataset's
folder first: a symlink that leads outside is refused like in a folder import.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.auth import Permission, require
from core.errors import StudioError
from core.imaging import encode_png
from core.ingest import ImportReport, Incoming, _image_files, _read_file, import_items
from core.paths import resolve_inside, resolve_path
from core.progress import ProgressFn
from core.schema import LABEL_MANIFEST, STATUS_TEST, STATUS_TRAIN
from core.settings import Settings
from core.store import Store

AUTO = "auto"

# Each dataset's own label codes, onto core.schema.EMOTIONS (their published orders).
FER2013_CODES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")  # 0..6
CKPLUS_CODES = ("neutral", "angry", "contempt", "disgust", "fear", "happy", "sad", "surprise")  # 0..7
RAFDB_CODES = {1: "surprise", 2: "fear", 3: "disgust", 4: "happy", 5: "sad", 6: "angry", 7: "neutral"}
AFFECTNET_CODES = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "angry", "contempt")  # 0..7
# fmt: off
JAFFE_CODES = {"AN": "angry", "DI": "disgust", "FE": "fear", "HA": "happy", "NE": "neutral", "SA": "sad",
               "SU": "surprise"}
KDEF_CODES = {"AF": "fear", "AN": "angry", "DI": "disgust", "HA": "happy", "NE": "neutral", "SA": "sad",
              "SU": "surprise"}
# fmt: on
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

FER_PIXELS = 48 * 48
JAFFE_NAME = re.compile(r"^([A-Z]{2})\.([A-Z]{2})(\d)\.(\d+)\.tiff?$", re.IGNORECASE)
KDEF_NAME = re.compile(r"^([AB])([FM])(\d\d)([A-Z]{2})(S|HL|HR|FL|FR)\.jpe?g$", re.IGNORECASE)
CK_SUBJECT = re.compile(r"^(S\d+)_(\d+)_(\d+)")
RAF_NAME = re.compile(r"^(train|test)_(\d+)(?:_aligned)?$")

Problems = list[tuple[str, str]]


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


def _row(name: str, read: Incoming, emotion: str | None, layout: str, **extra: object) -> Incoming:
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


def _refused(name: str, reason: str) -> Incoming:
    return Incoming(name, b"", problem=reason)


def _subdirs(path: Path) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(path) if e.is_dir(follow_symlinks=False))
    except OSError:
        return []


def _split_of(parts: tuple[str, ...]) -> str | None:
    """train/test from a folder name on the way (`train/`, `Training/`, `test/`, `val/`, `PublicTest/`)."""
    for part in parts:
        low = part.lower()
        if low.startswith("train"):
            return STATUS_TRAIN
        if low.startswith(("test", "val", "publictest", "privatetest")):
            return STATUS_TEST
    return None


# ---- FER2013 ------------------------------------------------------------------------------------------------------
def _fer_csv(path: Path) -> Path | None:
    if path.is_file():
        return path if path.suffix.lower() == ".csv" else None
    for name in ("fer2013.csv", "icml_face_data.csv", "train.csv"):
        if (path / name).is_file():
            return path / name
    return None


def _fer_header(csv_path: Path) -> list[str]:
    try:
        with csv_path.open(newline="", encoding="utf-8") as fh:
            return [h.strip().lower() for h in next(csv.reader(fh), [])]
    except (OSError, UnicodeDecodeError):
        return []


def _class_folders(root: Path) -> list[Path]:
    """Folders below `root` (at most two levels: `train/happy`) named after an emotion in words."""
    out = []
    for top in _subdirs(root):
        if top.lower() in FOLDER_WORDS:
            out.append(root / top)
        else:
            out.extend(root / top / sub for sub in _subdirs(root / top) if sub.lower() in FOLDER_WORDS)
    return out


def _detect_fer2013(path: Path) -> bool:
    csv_path = _fer_csv(path)
    if csv_path is not None:
        return {"emotion", "pixels"} <= set(_fer_header(csv_path))
    splits = [d for d in _subdirs(path) if d.lower() in ("train", "test")]
    classes = [{s.lower() for s in _subdirs(path / d)} for d in splits]
    return any(classes) and all(c <= set(FOLDER_WORDS) for c in classes)


def _count_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            count += chunk.count(b"\n")
    return count


def _fer_rows(csv_path: Path) -> Iterator[Incoming]:
    with csv_path.open(newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.reader(fh)
        header = [h.strip().lower() for h in next(reader, [])]
        col = {h: i for i, h in enumerate(header)}
        for line, row in enumerate(reader, start=2):
            name = f"{csv_path.name}#line{line}"
            try:
                code = int(row[col["emotion"]])
                pixels = np.array(row[col["pixels"]].split(), dtype=np.int64)
            except (IndexError, ValueError):
                yield _refused(name, "expected an emotion number and a pixels column of numbers")
                continue
            if not 0 <= code < len(FER2013_CODES):
                yield _refused(name, f"emotion {code} is not one of FER2013's 0..6")
                continue
            if pixels.size != FER_PIXELS or pixels.min() < 0 or pixels.max() > 255:
                yield _refused(name, f"expected {FER_PIXELS} pixel values 0..255, found {pixels.size}")
                continue
            usage = row[col["usage"]] if "usage" in col and len(row) > col["usage"] else ""
            image = encode_png(np.repeat(pixels.astype(np.uint8).reshape(48, 48, 1), 3, axis=2))
            status = _split_of((usage,)) if usage else None
            yield _row(name, Incoming(name, image), FER2013_CODES[code], "fer2013", status=status, usage=usage)


def _read_fer2013(path: Path, settings: Settings) -> Source:
    csv_path = _fer_csv(path)
    if csv_path is not None:
        return Source(max(0, _count_lines(csv_path) - 1), _fer_rows(csv_path))
    return _read_word_folders(path, settings, "fer2013", person=None)


def _read_word_folders(root: Path, settings: Settings, layout: str, person: re.Pattern[str] | None) -> Source:
    """Class folders named in words (FER2013's train/test folders, CK+48): label from the folder, the split from a
    folder above it, the person from the file name where `person` matches it."""
    files = [(folder, f) for folder in _class_folders(root) for f in _image_files(folder)]

    def gen() -> Iterator[Incoming]:
        for folder, f in files:
            name = f.relative_to(root).as_posix()
            match = person.match(f.name) if person else None
            yield _row(
                name,
                _read_file(name, f, root, settings),
                FOLDER_WORDS[folder.name.lower()],
                layout,
                person=match.group(1) if match else None,
                status=_split_of(folder.relative_to(root).parts[:-1]),
            )

    return Source(len(files), gen())


# ---- CK+ ----------------------------------------------------------------------------------------------------------
def _ck_dirs(root: Path) -> tuple[Path, Path] | None:
    """(images folder, Emotion folder) of the original CK+ release, at the root or one folder down."""
    for base in (root, *(root / d for d in _subdirs(root))):
        names = {n.lower(): n for n in _subdirs(base)}
        if "emotion" in names and "cohn-kanade-images" in names:
            return base / names["cohn-kanade-images"], base / names["emotion"]
    return None


def _detect_ckplus(path: Path) -> bool:
    if not path.is_dir():
        return False
    if _ck_dirs(path) is not None:
        return True
    folders = [d for d in _subdirs(path) if d.lower() in FOLDER_WORDS]
    return bool(folders) and any(CK_SUBJECT.match(f.name) for d in folders for f in _image_files(path / d)[:5])


def _read_ckplus(path: Path, settings: Settings) -> Source:
    dirs = _ck_dirs(path)
    if dirs is None:  # CK+48: class folders of cropped frames named S010_004_00000017.png
        return _read_word_folders(path, settings, "ckplus", person=CK_SUBJECT)
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
                yield _refused(name, f"unreadable emotion file: {exc}")
                continue
            frame = label_file.name[: -len("_emotion.txt")]
            sequence = images / rel.parent
            peak = next((p for p in _image_files(sequence) if p.stem == frame), None) if sequence.is_dir() else None
            subject = rel.parts[0]
            if peak is None:
                yield _refused(name, f"no image {frame}.* in {sequence.relative_to(path).as_posix()}")
                continue
            peak_name = peak.relative_to(path).as_posix()
            yield _row(peak_name, _read_file(peak_name, peak, path, settings), CKPLUS_CODES[code], "ckplus",
                       person=subject, sequence=rel.parent.as_posix())  # fmt: skip
            # The first frame of a sequence is the subject's neutral face: one per subject keeps the classes fair.
            if subject not in neutral_done:
                neutral_done.add(subject)
                first = _image_files(sequence)[0]
                first_name = first.relative_to(path).as_posix()
                yield _row(first_name, _read_file(first_name, first, path, settings), "neutral", "ckplus",
                           person=subject, sequence=rel.parent.as_posix())  # fmt: skip

    return Source(None, gen())


# ---- JAFFE and KDEF: everything in the file name ------------------------------------------------------------------
def _named_files(path: Path, pattern: re.Pattern[str]) -> list[Path]:
    return [f for f in _image_files(path) if pattern.match(f.name)] if path.is_dir() else []


def _detect_by_name(pattern: re.Pattern[str]) -> Callable[[Path], bool]:
    def detect(path: Path) -> bool:
        files = _image_files(path) if path.is_dir() else []
        return bool(files) and sum(bool(pattern.match(f.name)) for f in files) >= max(1, len(files) // 2)

    return detect


def _read_named(
    path: Path, settings: Settings, layout: str, pattern: re.Pattern[str], parse: Callable[[re.Match[str]], dict]
) -> Source:
    files = _image_files(path)

    def gen() -> Iterator[Incoming]:
        for f in files:
            name = f.relative_to(path).as_posix()
            match = pattern.match(f.name)
            fields = parse(match) if match else None
            if fields is None or fields.get("emotion") is None:
                yield _refused(name, f"not a {layout} file name" if fields is None else fields["why"])
                continue
            emotion = fields.pop("emotion")
            yield _row(name, _read_file(name, f, path, settings), emotion, layout, **fields)

    return Source(len(files), gen())


def _jaffe_fields(m: re.Match[str]) -> dict:
    code = m.group(2).upper()
    if code not in JAFFE_CODES:
        return {"emotion": None, "why": f"unknown JAFFE expression code {code!r} (known: {', '.join(JAFFE_CODES)})"}
    return {"emotion": JAFFE_CODES[code], "person": m.group(1).upper()}


def _kdef_fields(m: re.Match[str]) -> dict:
    code = m.group(4).upper()
    if code not in KDEF_CODES:
        return {"emotion": None, "why": f"unknown KDEF expression code {code!r} (known: {', '.join(KDEF_CODES)})"}
    # A and B are two sessions of the same person: the person is gender and number.
    return {"emotion": KDEF_CODES[code], "person": f"{m.group(2)}{m.group(3)}".upper(),
            "session": m.group(1).upper(), "angle": m.group(5).upper()}  # fmt: skip


# ---- RAF-DB -------------------------------------------------------------------------------------------------------
def _raf_list(path: Path) -> Path | None:
    for base in (path, path / "EmoLabel", path / "basic" / "EmoLabel"):
        for name in ("list_patition_label.txt", "list_partition_label.txt"):
            if (base / name).is_file():
                return base / name
    return None


def _detect_rafdb(path: Path) -> bool:
    return path.is_dir() and _raf_list(path) is not None


def _read_rafdb(path: Path, settings: Settings) -> Source:
    listing = _raf_list(path)
    assert listing is not None
    # `train_00001.jpg` in the list may be stored as train_00001_aligned.jpg (the aligned set): index files by key.
    files: dict[str, Path] = {}
    for f in _image_files(path):
        match = RAF_NAME.match(f.stem)
        if match:
            files.setdefault(f"{match.group(1)}_{match.group(2)}", f)
    total = _count_lines(listing)

    def gen() -> Iterator[Incoming]:
        with listing.open(encoding="utf-8", errors="replace") as fh:
            for number, line in enumerate(fh, start=1):
                parts = line.split()
                if not parts:
                    continue
                where = f"{listing.name}, line {number}"
                match = RAF_NAME.match(Path(parts[0]).stem) if len(parts) == 2 else None
                if match is None or not parts[1].isdigit() or int(parts[1]) not in RAFDB_CODES:
                    yield _refused(where, f"expected 'train_00001.jpg N' with N in 1..7: {line.strip()!r}")
                    continue
                f = files.get(f"{match.group(1)}_{match.group(2)}")
                if f is None:
                    yield _refused(where, f"no image file for {parts[0]}")
                    continue
                name = f.relative_to(path).as_posix()
                yield _row(name, _read_file(name, f, path, settings), RAFDB_CODES[int(parts[1])], "rafdb",
                           status=STATUS_TRAIN if match.group(1) == "train" else STATUS_TEST)  # fmt: skip

    return Source(total, gen())


# ---- AffectNet-style class-number folders -------------------------------------------------------------------------
def _number_folders(root: Path) -> list[Path]:
    out = []
    for top in _subdirs(root):
        if top.isdigit():
            out.append(root / top)
        else:
            out.extend(root / top / sub for sub in _subdirs(root / top) if sub.isdigit())
    return out


def _detect_affectnet(path: Path) -> bool:
    folders = _number_folders(path) if path.is_dir() else []
    return bool(folders) and all(0 <= int(f.name) <= 10 for f in folders)


def _read_affectnet(path: Path, settings: Settings) -> Source:
    folders = _number_folders(path)
    files = [(folder, f) for folder in folders for f in _image_files(folder)]

    def gen() -> Iterator[Incoming]:
        for folder, f in files:
            name = f.relative_to(path).as_posix()
            code = int(folder.name)
            if code >= len(AFFECTNET_CODES):  # 8 none, 9 uncertain, 10 no face
                yield _refused(name, f"class {code} is not an expression (AffectNet's 8..10: none, uncertain, no face)")
                continue
            status = _split_of(folder.relative_to(path).parts[:-1])
            yield _row(name, _read_file(name, f, path, settings), AFFECTNET_CODES[code], "affectnet", status=status)

    return Source(len(files), gen())


LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        Layout("fer2013", "FER2013: the CSV (emotion,pixels,Usage) or its train/test class folders",
               _detect_fer2013, _read_fer2013),
        Layout("ckplus", "CK+: cohn-kanade-images + Emotion folders (peak frames, one neutral a subject), or CK+48",
               _detect_ckplus, _read_ckplus),
        Layout("jaffe", "JAFFE: KA.AN1.39.tiff file names (person, expression)", _detect_by_name(JAFFE_NAME),
               lambda p, s: _read_named(p, s, "jaffe", JAFFE_NAME, _jaffe_fields)),
        Layout("rafdb", "RAF-DB: train_00001.jpg images + EmoLabel/list_patition_label.txt (labels 1..7)",
               _detect_rafdb, _read_rafdb),
        Layout("affectnet", "AffectNet-style class-number folders 0..7 (neutral, happy, sad, surprise, fear, disgust, "
               "anger, contempt), optionally under train/ and val/", _detect_affectnet, _read_affectnet),
        Layout("kdef", "KDEF: AF01ANS.JPG file names (session, person, expression, angle)", _detect_by_name(KDEF_NAME),
               lambda p, s: _read_named(p, s, "kdef", KDEF_NAME, _kdef_fields)),
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
