"""YOLO-format detection datasets: `images/` + `labels/` per split, class names from `data.yaml` or `classes.txt`.

Label lines are `class cx cy w h` with coordinates normalized to 0..1. Every malformed line is reported with its
file and line, so a user can fix the file rather than guess: a strict read (detector training and evaluation) raises
DatasetFormatError listing them all; a lenient read (import) skips the images they belong to and keeps the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from core.errors import DatasetFormatError
from core.labels import normalize_label
from core.paths import resolve_inside
from core.schema import IMAGE_EXTENSIONS

SPLIT_NAMES = ("train", "valid", "val", "test")


@dataclass(frozen=True)
class YoloBox:
    class_id: int
    cx: float
    cy: float
    w: float
    h: float
    line: int = 0

    def xyxy(self) -> tuple[float, float, float, float]:
        """Normalized (x0, y0, x1, y1), clipped to the image."""
        x0, y0 = max(0.0, self.cx - self.w / 2), max(0.0, self.cy - self.h / 2)
        x1, y1 = min(1.0, self.cx + self.w / 2), min(1.0, self.cy + self.h / 2)
        return x0, y0, x1, y1


@dataclass(frozen=True)
class YoloImage:
    image_path: Path
    label_path: Path | None
    boxes: tuple[YoloBox, ...]


@dataclass
class YoloDataset:
    root: Path
    class_names: list[str]  # as written in the dataset
    emotions: list[str]  # the same classes normalized onto core.schema.EMOTIONS
    splits: dict[str, list[YoloImage]] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)  # ("file, line N", reason) a lenient read skipped


# At most this many problems are spelled out in an exception message (all are kept in YoloDataset.problems).
MAX_LISTED_PROBLEMS = 20


def _problems_error(problems: list[tuple[str, str]]) -> DatasetFormatError:
    listed = [f"{where}: {reason}" for where, reason in problems[:MAX_LISTED_PROBLEMS]]
    more = len(problems) - len(listed)
    text = "; ".join(listed) + (f"; and {more} more" if more else "")
    return DatasetFormatError(text)


def _parse_line(line: str, num_classes: int) -> tuple[int, float, float, float, float] | str:
    """The numbers of one label line, or why it is malformed."""
    parts = line.split()
    if len(parts) != 5:
        return f"expected 5 columns 'class cx cy w h', found {len(parts)}: {line!r}"
    try:
        class_f = float(parts[0])
        cx, cy, w, h = (float(p) for p in parts[1:])
    except ValueError:
        return f"non-numeric value in {line!r}"
    if not class_f.is_integer() or not 0 <= class_f < num_classes:
        return f"class id {parts[0]} is out of range 0..{num_classes - 1}"
    for name, value in (("cx", cx), ("cy", cy), ("w", w), ("h", h)):
        if not 0.0 <= value <= 1.0:
            return f"{name}={value} is outside 0..1"
    if w == 0 or h == 0:
        return "box has zero width or height"
    return int(class_f), cx, cy, w, h


def read_label_file(path: Path, num_classes: int) -> tuple[list[YoloBox], list[tuple[str, str]]]:
    """Boxes of one label file and ("file, line N", reason) for every malformed line (an empty file means an
    image without faces)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [(str(path), f"cannot read label file ({exc})")]
    boxes: list[YoloBox] = []
    problems: list[tuple[str, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        parsed = _parse_line(line, num_classes)
        if isinstance(parsed, str):
            problems.append((f"{path}, line {number}", parsed))
        else:
            boxes.append(YoloBox(*parsed, line=number))
    return boxes, problems


def read_class_names(root: Path) -> list[str]:
    """Class names from `data.yaml` (`names:` list or dict) or `classes.txt` (one per line)."""
    yaml_path = next((p for p in (root / "data.yaml", root / "data.yml") if p.is_file()), None)
    if yaml_path is not None:
        try:
            meta = yaml.safe_load(yaml_path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise DatasetFormatError(f"{yaml_path}: not valid YAML ({exc})") from exc
        names = meta.get("names") if isinstance(meta, dict) else None
        if isinstance(names, dict):
            return [str(names[k]) for k in sorted(names, key=int)]
        if isinstance(names, list):
            return [str(n) for n in names]
        raise DatasetFormatError(f"{yaml_path}: no 'names' list")
    classes_txt = root / "classes.txt"
    if classes_txt.is_file():
        return [line.strip() for line in classes_txt.read_text().splitlines() if line.strip()]
    raise DatasetFormatError(f"{root}: neither data.yaml nor classes.txt names the classes")


def _split_dirs(root: Path) -> dict[str, Path]:
    found = {name: root / name for name in SPLIT_NAMES if (root / name / "images").is_dir()}
    if not found and (root / "images").is_dir():
        found = {"train": root}
    return found


def read_yolo_dataset(root: Path, *, strict: bool = True) -> YoloDataset:
    """Read a YOLO dataset folder: every split's images with their validated boxes.

    strict (training, evaluation): any malformed label line raises DatasetFormatError listing them all, since a
    detector trained with a face missing from its labels learns that face as background. Lenient (import): an image
    whose label file has a bad line is left out and the reason kept in `problems`; DatasetFormatError only when no
    image is usable. Images that really lie outside the dataset folder (a symlink) are never read.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetFormatError(f"{root}: not a folder")
    names = read_class_names(root)
    emotions = [normalize_label(n) for n in names]  # an unknown class name is reported, not guessed
    splits = _split_dirs(root)
    if not splits:
        raise DatasetFormatError(f"{root}: no split folder with images/ (expected e.g. train/images, valid/images)")
    dataset = YoloDataset(root=root, class_names=names, emotions=emotions)
    for split, folder in splits.items():
        items = []
        for image_path in sorted((folder / "images").iterdir()):
            if image_path.suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            if resolve_inside(root, image_path) is None:
                dataset.problems.append((str(image_path), "links to a file outside the dataset folder"))
                continue
            label_path = folder / "labels" / f"{image_path.stem}.txt"
            boxes: list[YoloBox] = []
            if label_path.is_file():
                boxes, problems = read_label_file(label_path, len(names))
                if problems:
                    dataset.problems.extend(problems)
                    continue
            items.append(YoloImage(image_path, label_path if label_path.is_file() else None, tuple(boxes)))
        dataset.splits["valid" if split == "val" else split] = items
    if dataset.problems and (strict or not any(dataset.splits.values())):
        raise _problems_error(dataset.problems)
    return dataset
