"""Training benchmark on the shared labeled data (research use only; never committed).

Run: `python bench/train.py` (from the repository root). It prints, for each model and feature set, accuracy and
macro-F1 with person-grouped CV on faces-dev, train-vs-valid on the fer-yolo face boxes, cross-dataset results,
and the wall time of the quick three-model comparison on 2,000 samples — next to a plain logistic regression on
blendshapes measured in the same run (the floor), as a ratio.

Landmarks are extracted once into a cache outside git (`--cache`, default /tmp/landmark_cache).
`--save-starter` retrains the best model on all the data and writes `models/starter/`.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.imaging import crop_box, decode_rgb  # noqa: E402
from core.labels import normalize_label  # noqa: E402
from core.landmarks.extractor import LandmarkExtractor  # noqa: E402
from core.schema import EMOTIONS, NUM_BLENDSHAPES, NUM_LANDMARKS  # noqa: E402
from core.settings import get_settings  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
BOX_PAD = 0.15


@dataclass
class Cached:
    """Extracted faces of one dataset: arrays aligned row by row."""

    landmarks: np.ndarray  # (n, 478, 3)
    blendshapes: np.ndarray  # (n, 52)
    transforms: np.ndarray  # (n, 4, 4)
    labels: np.ndarray  # (n,) str
    groups: np.ndarray  # (n,) str: person (faces-dev) or original photo (fer-yolo)
    split: np.ndarray  # (n,) str: train / valid
    attempted: int = 0

    @classmethod
    def load(cls, path: Path) -> Cached:
        z = np.load(path, allow_pickle=False)
        return cls(
            *(z[k] for k in ("landmarks", "blendshapes", "transforms", "labels", "groups", "split")),
            attempted=int(z["attempted"]),
        )

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(
            tmp,
            landmarks=self.landmarks,
            blendshapes=self.blendshapes,
            transforms=self.transforms,
            labels=self.labels,
            groups=self.groups,
            split=self.split,
            attempted=self.attempted,
        )
        tmp.replace(path)

    def subset(self, mask: np.ndarray) -> Cached:
        return Cached(
            self.landmarks[mask],
            self.blendshapes[mask],
            self.transforms[mask],
            self.labels[mask],
            self.groups[mask],
            self.split[mask],
            int(mask.sum()),
        )


def _collect(rows: list[tuple[np.ndarray, str, str, str]], extractor: LandmarkExtractor, what: str) -> Cached:
    lms, bss, tfs, labels, groups, splits = [], [], [], [], [], []
    t0 = time.perf_counter()
    for i, (rgb, label, group, split) in enumerate(rows):
        out = extractor.extract(rgb)
        if out.face is not None:
            lms.append(out.face.landmarks)
            bss.append(out.face.blendshapes)
            tfs.append(out.face.transform)
            labels.append(label)
            groups.append(group)
            splits.append(split)
        if (i + 1) % 500 == 0:
            print(f"  {what}: {i + 1}/{len(rows)} ({time.perf_counter() - t0:.0f} s)", flush=True)
    empty = np.zeros((0,), dtype=str)
    return Cached(
        np.asarray(lms, dtype=np.float32).reshape(-1, NUM_LANDMARKS, 3),
        np.asarray(bss, dtype=np.float32).reshape(-1, NUM_BLENDSHAPES),
        np.asarray(tfs, dtype=np.float32).reshape(-1, 4, 4),
        np.asarray(labels, dtype=str) if labels else empty,
        np.asarray(groups, dtype=str) if groups else empty,
        np.asarray(splits, dtype=str) if splits else empty,
        attempted=len(rows),
    )


def faces_dev_rows(root: Path) -> list[tuple[np.ndarray, str, str, str]]:
    rows = []
    with (root / "manifest.csv").open(newline="") as fh:
        for rec in csv.DictReader(fh):
            try:
                rgb = decode_rgb((root / rec["path"]).read_bytes())
                rows.append((rgb, normalize_label(rec["label"]), rec["person"], "train"))
            except (OSError, ValueError) as exc:
                print(f"  skipped {rec['path']}: {exc}")
    return rows


def fer_yolo_rows(root: Path) -> list[tuple[np.ndarray, str, str, str]]:
    """One row per labeled box: the padded crop. Roboflow names augmented copies `<original>.rf.<hash>`, so the
    original's name groups them."""
    rows = []
    for split in ("train", "valid"):
        for img_path in sorted((root / split / "images").iterdir()):
            label_path = root / split / "labels" / (img_path.stem + ".txt")
            if not label_path.is_file():
                continue
            try:
                rgb = decode_rgb(img_path.read_bytes())
            except (OSError, ValueError) as exc:
                print(f"  skipped {img_path.name}: {exc}")
                continue
            group = img_path.name.split(".rf.")[0]
            for line in label_path.read_text().splitlines():
                parts = line.split()
                if len(parts) != 5:
                    continue
                cls = int(parts[0])
                cx, cy, w, h = (float(v) for v in parts[1:])
                box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
                rows.append((crop_box(rgb, box, pad=BOX_PAD), EMOTIONS[cls], group, split))
    return rows


def load_cache(cache: Path, name: str) -> Cached:
    path = cache / f"{name}.npz"
    if path.is_file():
        return Cached.load(path)
    print(f"extracting landmarks of {name} into {path} (once) ...", flush=True)
    rows = faces_dev_rows(DATA / "faces-dev") if name == "faces-dev" else fer_yolo_rows(DATA / "fer-yolo")
    with LandmarkExtractor(get_settings(), mode="image") as extractor:
        cached = _collect(rows, extractor, name)
    cached.save(path)
    print(f"  {name}: {len(cached.labels)} faces of {cached.attempted} images/boxes", flush=True)
    return cached


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/landmark_cache"))
    parser.add_argument("--extract-only", action="store_true")
    args = parser.parse_args(argv)
    if not DATA.is_dir():
        print(f"{DATA} is absent; nothing to benchmark")
        return 0
    for name in ("faces-dev", "fer-yolo"):
        load_cache(args.cache, name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
