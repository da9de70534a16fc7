"""Face crops for the image models: square crops around the landmark box, read from the store, split for
validation, augmented, and turned into ImageNet-normalised batches."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from core.errors import ImageNotReadable
from core.imaging import crop_box, decode_rgb
from core.progress import ProgressFn
from core.schema import EMOTIONS
from core.store.repository import Filters, Store
from core.training.data import training_statuses

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CROP_PAD = 0.15  # the crop grows the landmark box by this much on each side: forehead, chin and ears help


@dataclass
class CropData:
    images: list[np.ndarray]  # (size, size, 3) uint8 RGB face crops
    labels: np.ndarray  # (n,) class indices into `classes`
    classes: list[str]
    groups: np.ndarray | None  # person ids, or None when the store does not know identity for every image
    data_hash: str
    skipped: list[tuple[int, str]] = field(default_factory=list)


def face_crop(rgb: np.ndarray, box: tuple[float, float, float, float], size: int, pad: float = CROP_PAD) -> np.ndarray:
    crop = crop_box(rgb, box, pad=pad)
    return np.ascontiguousarray(cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA))


def load_crops(
    store: Store,
    filters: Filters | None = None,
    *,
    size: int = 224,
    pad: float = CROP_PAD,
    progress: ProgressFn | None = None,
) -> CropData:
    """Labeled faces of the store (train and test status by default) as square crops around the landmark box."""
    f = filters or Filters()
    wanted = Filters(
        emotions=f.emotions,
        sources=f.sources,
        statuses=training_statuses(f.statuses),
        extraction_states=f.extraction_states,
        labeled_only=True,
    )
    pairs = store.faces(wanted)
    present = {str(r.emotion) for r, _ in pairs}
    classes = [e for e in EMOTIONS if e in present]
    index = {c: i for i, c in enumerate(classes)}
    images, labels, persons, digest, skipped = [], [], [], hashlib.sha256(f"crops:{size}:{pad}".encode()), []
    for done, (record, face) in enumerate(pairs, start=1):
        try:
            rgb = decode_rgb(store.read_bytes(record))
        except (OSError, ImageNotReadable) as exc:
            skipped.append((record.id, str(exc)))  # a missing or corrupt file never stops the batch
        else:
            images.append(face_crop(rgb, face.bbox, size, pad))
            labels.append(index[str(record.emotion)])
            persons.append(record.person)
            digest.update(f"{record.sha256}:{record.emotion}\n".encode())
        if progress is not None:
            progress(done, len(pairs))
    groups = np.asarray(persons, dtype=str) if persons and all(persons) else None
    return CropData(images, np.asarray(labels, dtype=np.int64), classes, groups, digest.hexdigest()[:16], skipped)


def split_train_val(
    labels: np.ndarray, groups: np.ndarray | None, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, str]:
    """Train and validation indices; persons never straddle the split when identity is known."""
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    idx = np.arange(len(labels))
    if fraction <= 0 or len(labels) < 4:
        return idx, idx[:0], "no validation split"
    if groups is not None and len(np.unique(groups)) >= 2:
        splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
        train, val = next(splitter.split(idx, labels, groups))
        return np.sort(train), np.sort(val), f"{fraction:.0%} of persons held out for validation"
    counts = np.bincount(labels)
    n_val = int(np.ceil(fraction * len(labels)))
    # Stratify when every class can appear on both sides; tiny sets fall back to a plain shuffled split.
    enough = counts[counts > 0].min() >= 2 and n_val >= (counts > 0).sum() and len(labels) - n_val >= (counts > 0).sum()
    stratify = labels if enough else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train, val = train_test_split(idx, test_size=fraction, random_state=seed, stratify=stratify)
    return np.sort(train), np.sort(val), f"{'stratified ' if stratify is not None else ''}{fraction:.0%} validation"


def augment_crop(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flip, small rotation/zoom/shift and brightness/contrast jitter of one face crop."""
    size = img.shape[0]
    if rng.random() < 0.5:
        img = img[:, ::-1]
    angle = float(rng.uniform(-12, 12))
    scale = float(rng.uniform(0.9, 1.12))
    m = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
    m[:, 2] += rng.uniform(-0.06, 0.06, size=2) * size
    img = cv2.warpAffine(np.ascontiguousarray(img), m, (size, size), borderMode=cv2.BORDER_REFLECT)
    f = img.astype(np.float32) * rng.uniform(0.75, 1.25) + rng.uniform(-20, 20)
    return np.clip(f, 0, 255).astype(np.uint8)


def to_batch(images: Sequence[np.ndarray], device: str) -> torch.Tensor:
    arr = torch.from_numpy(np.stack(images)).to(device).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    return (arr - mean) / std
