"""The three dev sets, extracted once for the starter's crop study and selection (research data, never committed).

Each dataset becomes one npz in the cache folder: MediaPipe landmarks, blendshapes and transforms of the faces it
found (upscaled and retried on small images, as `LandmarkExtractor.detect_still` does), and face-api's network
outputs on every candidate framing of `core.faceapi.framing.FRAMINGS`, on each crop's mirror image, and on the
whole image. Faces MediaPipe missed keep their label and whole-image outputs (the network's fallback).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.dev_sets import dev_set_rows
from core.faceapi.framing import FRAMINGS, crop, whole_image_crop
from core.faceapi.network import EMBEDDING_WIDTH, LOGITS_WIDTH, shared_network
from core.features.raw import arrays_to_matrix
from core.landmarks.extractor import LandmarkExtractor
from core.settings import get_settings

DATASETS = ("faces-dev", "fer-yolo", "ckplus-dev")
# The domain each dev set stands for in the tables.
DOMAIN = {"faces-dev": "web", "fer-yolo": "web crops", "ckplus-dev": "posed lab"}
VERSION = "v3"


@dataclass
class DomainSet:
    """One dataset's faces, row-aligned. `logits[:, k, 0]` is framing k, `[:, k, 1]` its mirror; the last framing
    index is the whole image."""

    name: str
    raw: np.ndarray  # (n, RAW_WIDTH) landmark rows
    labels: np.ndarray  # (n,) str
    groups: np.ndarray  # (n,) str: person / original photo
    gray: np.ndarray  # (n,) bool: the image is grayscale
    side: np.ndarray  # (n,) int: the image's longer side in pixels
    logits: np.ndarray  # (n, F + 1, 2, 7)
    embedding: np.ndarray  # (n, F + 1, 256) float16, unflipped crops
    missed_labels: np.ndarray  # (m,) str
    missed_groups: np.ndarray  # (m,) str
    missed_logits: np.ndarray  # (m, 2, 7): whole image, and its mirror

    @property
    def domain(self) -> str:
        return DOMAIN[self.name]


def _is_gray(rgb: np.ndarray) -> bool:
    small = rgb[::4, ::4].astype(np.int16)
    return bool(np.abs(small[..., 0] - small[..., 1]).max() <= 2 and np.abs(small[..., 1] - small[..., 2]).max() <= 2)


def extract(name: str, data_root: Path) -> DomainSet:
    network = shared_network()
    rows = dev_set_rows(name, data_root / name, group_prefix=f"{name}:")
    raw, labels, groups, gray, side, logits, emb = [], [], [], [], [], [], []
    m_labels, m_groups, m_logits = [], [], []
    t0 = time.perf_counter()
    with LandmarkExtractor(get_settings(), mode="image") as extractor:
        for i, (rgb, label, group) in enumerate(rows):
            out = extractor.extract(rgb)
            whole = whole_image_crop(rgb)
            if out.face is None:
                res = network.run(np.stack([whole, whole[:, ::-1]]))
                m_labels.append(label)
                m_groups.append(group)
                m_logits.append(res.logits)
            else:
                face = out.face
                crops = [crop(rgb, face.bbox, face.landmarks, f) for f in FRAMINGS] + [whole]
                batch = np.stack(crops + [c[:, ::-1] for c in crops])
                res = network.run(batch)
                k = len(crops)
                logits.append(np.stack([res.logits[:k], res.logits[k:]], axis=1))
                emb.append(res.embedding[:k].astype(np.float16))
                raw.append(arrays_to_matrix(face.landmarks[None], face.blendshapes[None], face.transform[None])[0])
                labels.append(label)
                groups.append(group)
                gray.append(_is_gray(rgb))
                side.append(max(rgb.shape[:2]))
            if (i + 1) % 250 == 0:
                print(f"  {name}: {i + 1}/{len(rows)} ({time.perf_counter() - t0:.0f} s)", flush=True)
    k = len(FRAMINGS) + 1
    return DomainSet(
        name,
        np.asarray(raw, np.float32),
        np.asarray(labels, str),
        np.asarray(groups, str),
        np.asarray(gray, bool),
        np.asarray(side, np.int32),
        np.asarray(logits, np.float32).reshape(-1, k, 2, LOGITS_WIDTH),
        np.asarray(emb, np.float16).reshape(-1, k, EMBEDDING_WIDTH),
        np.asarray(m_labels, str),
        np.asarray(m_groups, str),
        np.asarray(m_logits, np.float32).reshape(-1, 2, LOGITS_WIDTH),
    )


FIELDS = (
    "raw",
    "labels",
    "groups",
    "gray",
    "side",
    "logits",
    "embedding",
    "missed_labels",
    "missed_groups",
    "missed_logits",
)


def load(cache: Path, name: str, data_root: Path) -> DomainSet:
    """The dataset's extracted arrays, from the cache or extracted now (once; minutes)."""
    path = cache / f"{name}-{VERSION}-framings{len(FRAMINGS)}.npz"
    if path.is_file():
        z = np.load(path, allow_pickle=False)
        return DomainSet(name, *(z[f] for f in FIELDS))
    print(f"extracting {name} into {path} (once) ...", flush=True)
    ds = extract(name, data_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **{f: getattr(ds, f) for f in FIELDS})
    tmp.replace(path)
    print(f"  {name}: {len(ds.labels)} faces, {len(ds.missed_labels)} missed", flush=True)
    return ds
