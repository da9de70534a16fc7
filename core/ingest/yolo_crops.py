"""YOLO datasets: each labeled box becomes a face-crop record, labeled with its class, grouped with the other crops
of its source image."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from core.auth import Permission, require
from core.errors import ImageNotReadable
from core.imaging import crop_box, decode_rgb, encode_png, verify_image
from core.import_roots import ImportRoots
from core.ingest.files import read_file
from core.ingest.items import ImportReport, Incoming, import_items
from core.progress import ProgressFn
from core.schema import STATUS_TEST, STATUS_TRAIN
from core.settings import Settings
from core.store import Store
from core.yolo import YoloDataset, YoloImage, read_yolo_dataset


def import_yolo(
    store: Store,
    root: Path,
    *,
    pad: float = 0.15,
    roots: ImportRoots | None = None,
    status: str | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> ImportReport:
    """Each labeled box of a YOLO dataset becomes a face-crop record (train split -> train, others -> test, unless
    `status` says otherwise: an evaluation suite's images are all "suite").
    Images with a malformed label file, unreadable or too large are skipped with their reason; DatasetFormatError
    only when no image is usable."""
    require(Permission.IMPORT)
    # The whole tree is checked: a label file linked to /etc/passwd would otherwise be read and quoted in an error.
    folder = ImportRoots.or_settings(roots, store.settings).check_tree(Path(root), "dataset folder")
    dataset = read_yolo_dataset(folder, strict=False)
    store.remove_stale_temp_files()  # a crashed earlier import may have left some
    report = ImportReport()
    report.skipped.extend(dataset.problems)  # bad label lines: their image is left out, every line is listed
    images = [(split, item) for split, items in dataset.splits.items() for item in items]
    for done, (split, item) in enumerate(images, start=1):
        if cancel is not None and cancel.is_set():
            report.cancelled = True
            break
        name = item.image_path.relative_to(dataset.root).as_posix()
        rgb = _decode(name, item, dataset, store.settings, report)
        if rgb is not None:
            crops = _crops(name, split, item, dataset, rgb, pad, report)
            sub = import_items(store, crops, status=status or (STATUS_TRAIN if split == "train" else STATUS_TEST))
            _merge(report, sub)
        if progress is not None:
            progress(done, len(images))
    return report


def _decode(
    name: str, item: YoloImage, dataset: YoloDataset, settings: Settings, report: ImportReport
) -> np.ndarray | None:
    """The image's pixels, or None with the reason added to the report's skipped files."""
    read = read_file(name, item.image_path, dataset.root, settings)
    try:
        if read.problem is not None:
            raise ImageNotReadable(read.problem)
        verify_image(read.data, settings.max_image_pixels)  # before OpenCV, which half-decodes a cut file
        return decode_rgb(read.data, settings.max_image_pixels)
    except ImageNotReadable as exc:
        report.skipped.append((name, str(exc)))
        return None


def _crops(
    name: str, split: str, item: YoloImage, dataset: YoloDataset, rgb: np.ndarray, pad: float, report: ImportReport
) -> list[Incoming]:
    """One labeled face crop for each box of the image; boxes too small to crop are reported and left out."""
    if not item.boxes:
        report.warnings.append(f"{name}: no boxes in its label file")
    crops = []
    for box in item.boxes:
        crop: np.ndarray = crop_box(rgb, box.xyxy(), pad=pad)
        if min(crop.shape[:2]) < 8:
            report.skipped.append((f"{name}#{box.line}", "box smaller than 8 pixels"))
            continue
        emotion = dataset.emotions[box.class_id]
        crops.append(
            Incoming(
                f"{emotion}_{item.image_path.stem}_{box.line}.png",
                encode_png(crop),
                emotion=emotion,
                label_source="yolo",
                # Crops of one source image share a group, so grouped splits never separate them.
                person=f"yolo:{item.image_path.stem}",
                attributes={"yolo": {"file": name, "split": split, "line": box.line, "box": list(box.xyxy())}},
            )
        )
    return crops


def _merge(report: ImportReport, sub: ImportReport) -> None:
    report.added += sub.added
    report.duplicates += sub.duplicates
    report.skipped.extend(sub.skipped)
    report.image_ids.extend(sub.image_ids)
