"""Face crops of the three dev sets at face-api's framing, for bench/finetune.py (research data: cached outside git).

Each image (faces-dev, ckplus-dev) or labeled box (fer-yolo, padded like bench/train.py) goes through MediaPipe once;
the crop is `core.faceapi.network.face_crop` around the landmark box: the same crop the face-api kinds predict on.
Faces MediaPipe misses are counted and left out (for the network alone and the fine-tuned network alike).
"""

from __future__ import annotations

import csv
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.faceapi.network import CROP_SCALE, face_crop  # noqa: E402
from core.imaging import crop_box, decode_rgb  # noqa: E402
from core.labels import normalize_label  # noqa: E402
from core.schema import EMOTIONS  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
DOMAINS = ("faces-dev", "fer-yolo", "ckplus-dev")
BOX_PAD = 0.15


@dataclass
class Crops:
    crops: np.ndarray  # (n, 112, 112, 3) uint8
    labels: np.ndarray  # (n,) str
    groups: np.ndarray  # (n,) str: person, or the original photo for fer-yolo
    missed: int


def _manifest_rows(root: Path) -> list[tuple[np.ndarray, str, str]]:
    rows = []
    with (root / "manifest.csv").open(newline="") as fh:
        for rec in csv.DictReader(fh):
            rows.append((decode_rgb((root / rec["path"]).read_bytes()), normalize_label(rec["label"]), rec["person"]))
    return rows


def _yolo_rows(root: Path) -> list[tuple[np.ndarray, str, str]]:
    rows = []
    for split in ("train", "valid"):
        for img_path in sorted((root / split / "images").iterdir()):
            label_path = root / split / "labels" / (img_path.stem + ".txt")
            if not label_path.is_file():
                continue
            rgb = decode_rgb(img_path.read_bytes())
            group = img_path.name.split(".rf.")[0]
            for line in label_path.read_text().splitlines():
                parts = line.split()
                if len(parts) != 5:
                    continue
                cx, cy, w, h = (float(v) for v in parts[1:])
                box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
                rows.append((crop_box(rgb, box, pad=BOX_PAD), EMOTIONS[int(parts[0])], group))
    return rows


def load_domain(name: str, cache: Path) -> Crops:
    path = cache / f"{name}-crops{CROP_SCALE:g}.npz"
    if path.is_file():
        z = np.load(path, allow_pickle=False)
        return Crops(z["crops"], z["labels"], z["groups"], int(z["missed"]))
    from core.landmarks.extractor import LandmarkExtractor

    rows = _yolo_rows(DATA / name) if name == "fer-yolo" else _manifest_rows(DATA / name)
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
