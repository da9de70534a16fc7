"""Face crops of the three dev sets at face-api's framing, for bench/finetune.py (research data: cached outside git).

Each image (faces-dev, ckplus-dev) or labeled box (fer-yolo, padded like bench/train.py) goes through MediaPipe once;
the crop is `core.faceapi.network.face_crop` around the landmark box: the same crop the face-api kinds predict on.
Faces MediaPipe misses are counted and left out (for the network alone and the fine-tuned network alike).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dev_sets import dev_set_rows  # noqa: E402
from core.faceapi.network import CROP_SCALE, face_crop  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
DOMAINS = ("faces-dev", "fer-yolo", "ckplus-dev")


@dataclass
class Crops:
    crops: np.ndarray  # (n, 112, 112, 3) uint8
    labels: np.ndarray  # (n,) str
    groups: np.ndarray  # (n,) str: person, or the original photo for fer-yolo
    missed: int


def load_domain(name: str, cache: Path) -> Crops:
    path = cache / f"{name}-crops{CROP_SCALE:g}.npz"
    if path.is_file():
        z = np.load(path, allow_pickle=False)
        return Crops(z["crops"], z["labels"], z["groups"], int(z["missed"]))
    from core.landmarks.extractor import LandmarkExtractor

    rows = dev_set_rows(name, DATA / name)
    crops, labels, groups, missed = [], [], [], 0
    t0 = time.perf_counter()
    with LandmarkExtractor(mode="image") as extractor:
        for i, (rgb, label, group) in enumerate(rows):
            out = extractor.extract(rgb)
            if out.face is None:
                missed += 1
            else:
                crops.append(face_crop(rgb, out.face.bbox))
                labels.append(label)
                groups.append(group)
            if (i + 1) % 500 == 0:
                print(f"  {name}: {i + 1}/{len(rows)} ({time.perf_counter() - t0:.0f} s)", flush=True)
    result = Crops(np.stack(crops), np.asarray(labels), np.asarray(groups), missed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, crops=result.crops, labels=result.labels, groups=result.groups, missed=missed)
    tmp.replace(path)
    return result


if __name__ == "__main__":
    for domain in DOMAINS:
        d = load_domain(domain, Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/finetune_cache"))
        print(domain, len(d.labels), "faces,", d.missed, "missed", flush=True)
