"""Detector samples: images resized to the network's input with their face boxes, and box-consistent augmentation.

Samples come from a YOLO folder (`core.yolo`) or from face records of the store. Images are stretched to a square
(boxes are normalized, so they stay valid) and held in memory as uint8: 1,000 images of 256 px are 200 MB.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from core.detector.boxes import GridSpec, encode_targets
from core.errors import ImageNotReadable, TrainingDataError
from core.imaging import decode_rgb
from core.progress import ProgressFn
from core.store.repository import Filters, Store
from core.yolo import YoloImage

log = logging.getLogger(__name__)
# Grey fill of the area that a zoom-out or shift uncovers (the usual YOLO letterbox colour).
FILL = 114
MIN_VISIBLE = 0.4  # a face cut by augmentation is kept when at least this share of its box stays in the image


@dataclass
class DetectionSample:
    image: np.ndarray  # (size, size, 3) uint8 RGB
    boxes: np.ndarray  # (N, 4) float32 normalized cx, cy, w, h
    classes: np.ndarray  # (N,) int64 indices into the model's classes
    name: str = ""


def resize_square(rgb: np.ndarray, size: int) -> np.ndarray:
    interp = cv2.INTER_AREA if max(rgb.shape[:2]) > size else cv2.INTER_LINEAR
    return np.ascontiguousarray(cv2.resize(rgb, (size, size), interpolation=interp))


def samples_from_yolo(
    items: Sequence[YoloImage],
    class_map: Sequence[int],
    size: int,
    *,
    progress: ProgressFn | None = None,
    skipped: list[tuple[str, str]] | None = None,
) -> list[DetectionSample]:
    """Load YOLO images; `class_map[dataset class id]` is the model class index. Unreadable images are skipped."""
    out = []
    for done, item in enumerate(items, start=1):
        try:
            rgb = decode_rgb(item.image_path.read_bytes())
        except (OSError, ImageNotReadable) as exc:
            if skipped is not None:
                skipped.append((str(item.image_path), str(exc)))
            log.warning("skipped %s: %s", item.image_path, exc)
            continue
        boxes = np.array([(b.cx, b.cy, b.w, b.h) for b in item.boxes], dtype=np.float32).reshape(-1, 4)
        classes = np.array([class_map[b.class_id] for b in item.boxes], dtype=np.int64)
        out.append(DetectionSample(resize_square(rgb, size), boxes, classes, str(item.image_path.name)))
        if progress is not None:
            progress(done, len(items))
    return out


def _box_in_crop(record_box: Sequence[float], pad: float) -> tuple[float, float, float, float]:
    """Where a YOLO box lands inside the crop that import cut around it (`crop_box` with `pad`), as cx, cy, w, h."""
    x0, y0, x1, y1 = record_box
    bw, bh = x1 - x0, y1 - y0
    cx0, cx1 = max(0.0, x0 - pad * bw), min(1.0, x1 + pad * bw)
    cy0, cy1 = max(0.0, y0 - pad * bh), min(1.0, y1 + pad * bh)
    nx0, nx1 = (x0 - cx0) / (cx1 - cx0), (x1 - cx0) / (cx1 - cx0)
    ny0, ny1 = (y0 - cy0) / (cy1 - cy0), (y1 - cy0) / (cy1 - cy0)
    return (nx0 + nx1) / 2, (ny0 + ny1) / 2, nx1 - nx0, ny1 - ny0


def samples_from_store(
    store: Store,
    filters: Filters,
    classes: Sequence[str],
    size: int,
    *,
    import_pad: float = 0.15,
    progress: ProgressFn | None = None,
) -> list[DetectionSample]:
    """Labeled store records as one-face samples.

    A YOLO import stores each face as a crop; its box inside the crop follows from the original box recorded in
    `attributes["yolo"]["box"]` and the import padding. Other records use the MediaPipe landmark box.
    """
    index = {c: i for i, c in enumerate(classes)}
    records = [r for r in store.list_images(filters) if r.emotion in index]
    out = []
    for done, record in enumerate(records, start=1):
        yolo = (record.attributes or {}).get("yolo") or {}
        box: tuple[float, float, float, float] | None = None
        if isinstance(yolo.get("box"), list) and len(yolo["box"]) == 4:
            box = _box_in_crop([float(v) for v in yolo["box"]], float(yolo.get("pad", import_pad)))
        elif record.extraction is not None and record.extraction.bbox_x0 is not None:
            e = record.extraction
            x0, y0, x1, y1 = e.bbox_x0 or 0.0, e.bbox_y0 or 0.0, e.bbox_x1 or 1.0, e.bbox_y1 or 1.0
            box = ((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0)
        if box is None:
            continue
        try:
            rgb = decode_rgb(store.read_bytes(record))
        except (OSError, ImageNotReadable) as exc:
            log.warning("skipped image %s: %s", record.id, exc)
            continue
        out.append(
            DetectionSample(
                resize_square(rgb, size),
                np.array([box], dtype=np.float32),
                np.array([index[str(record.emotion)]], dtype=np.int64),
                record.original_name or str(record.id),
            )
        )
        if progress is not None:
            progress(done, len(records))
    if not out:
        raise TrainingDataError("no labeled faces with a box in the selected data (import YOLO data or extract)")
    return out


def augment(
    sample: DetectionSample,
    rng: np.random.Generator,
    *,
    scale: float = 0.3,
    shift: float = 0.15,
    flip: bool = True,
    colour: float = 0.3,
) -> DetectionSample:
    """Random horizontal flip, zoom in/out with shift, and brightness/contrast/saturation jitter.

    The boxes go through the same affine map as the pixels; faces pushed mostly out of the frame are dropped.
    """
    img = sample.image
    size = img.shape[0]
    boxes = sample.boxes.copy()
    classes = sample.classes.copy()
    if flip and rng.random() < 0.5:
        img = img[:, ::-1]
        boxes[:, 0] = 1.0 - boxes[:, 0]
    s = float(rng.uniform(1.0 - scale, 1.0 + scale))
    tx, ty = (float(v) for v in rng.uniform(-shift, shift, size=2))
    # x' = s * (x - 0.5) + 0.5 + t in normalized units.
    m = np.array([[s, 0.0, (0.5 - 0.5 * s + tx) * size], [0.0, s, (0.5 - 0.5 * s + ty) * size]], dtype=np.float32)
    img = cv2.warpAffine(np.ascontiguousarray(img), m, (size, size), borderValue=(FILL, FILL, FILL))
    if len(boxes):
        x0 = (boxes[:, 0] - boxes[:, 2] / 2 - 0.5) * s + 0.5 + tx
        x1 = (boxes[:, 0] + boxes[:, 2] / 2 - 0.5) * s + 0.5 + tx
        y0 = (boxes[:, 1] - boxes[:, 3] / 2 - 0.5) * s + 0.5 + ty
        y1 = (boxes[:, 1] + boxes[:, 3] / 2 - 0.5) * s + 0.5 + ty
        area = (x1 - x0) * (y1 - y0)
        cx0, cx1, cy0, cy1 = np.clip(x0, 0, 1), np.clip(x1, 0, 1), np.clip(y0, 0, 1), np.clip(y1, 0, 1)
        visible = (cx1 - cx0) * (cy1 - cy0) / np.maximum(area, 1e-9)
        keep = (visible >= MIN_VISIBLE) & (cx1 - cx0 > 0.01) & (cy1 - cy0 > 0.01)
        boxes = np.stack(((cx0 + cx1) / 2, (cy0 + cy1) / 2, cx1 - cx0, cy1 - cy0), axis=1)[keep].astype(np.float32)
        classes = classes[keep]
    if colour > 0:
        f = img.astype(np.float32)
        gain = rng.uniform(1 - colour, 1 + colour)
        bias = rng.uniform(-colour, colour) * 64
        grey = f.mean(axis=2, keepdims=True)
        sat = rng.uniform(1 - colour, 1 + colour)
        f = grey + (f - grey) * sat
        f = (f - f.mean()) * gain + f.mean() + bias
        img = np.clip(f, 0, 255).astype(np.uint8)
    return DetectionSample(np.ascontiguousarray(img), boxes, classes, sample.name)


def to_tensor(images: Sequence[np.ndarray]) -> torch.Tensor:
    """uint8 HWC images -> float (B, 3, H, W) in 0..1."""
    arr = np.stack([np.asarray(i) for i in images])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float().div_(255.0)


def make_batch(
    samples: Sequence[DetectionSample], spec: GridSpec
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Images and stacked grid targets of a batch."""
    return (to_tensor([s.image for s in samples]), *make_targets(samples, spec))


def make_targets(samples: Sequence[DetectionSample], spec: GridSpec) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Stacked grid targets (objectness, offsets, classes) of a batch."""
    targets = [encode_targets(s.boxes, s.classes, spec) for s in samples]
    return tuple(torch.stack([t[k] for t in targets]) for k in range(3))  # type: ignore[return-value]


def flipped(sample: DetectionSample) -> DetectionSample:
    """The sample mirrored left-right, boxes with it."""
    boxes = sample.boxes.copy()
    boxes[:, 0] = 1.0 - boxes[:, 0]
    return DetectionSample(np.ascontiguousarray(sample.image[:, ::-1]), boxes, sample.classes.copy(), sample.name)


def class_counts(samples: Sequence[DetectionSample], num_classes: int) -> np.ndarray:
    counts = np.zeros(num_classes, dtype=np.int64)
    for s in samples:
        np.add.at(counts, s.classes, 1)
    return counts


def yolo_class_map(dataset_emotions: Sequence[str], classes: Sequence[str]) -> list[int]:
    index = {c: i for i, c in enumerate(classes)}
    return [index[e] for e in dataset_emotions]
