"""Benchmark: the project's batch extraction against a bare single-process FaceLandmarker loop, same images, same run.

Usage: python bench/extract.py [--limit N] [--workers W]
Prints images/second for both and their ratio (goal: >= 1.7x on a 2-core machine).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import mediapipe as mp
import pandas as pd
from mediapipe.tasks.python import BaseOptions, vision

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.db import dispose_engine
from core.ingest import import_manifest
from core.landmarks.batch import extract_store
from core.settings import Settings
from core.store import Store

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "faces-dev"


def bare_loop(paths: list[Path], model: Path) -> tuple[float, int]:
    """Raw MediaPipe: one IMAGE-mode landmarker, cv2 decode, detect. Returns (seconds, faces found)."""
    options = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model)),
        running_mode=vision.RunningMode.IMAGE,
        num_faces=4,
        output_face_blendshapes=True,
        output_facial_transformation_matrixes=True,
    )
    found = 0
    with vision.FaceLandmarker.create_from_options(options) as landmarker:
        start = time.perf_counter()
        for path in paths:
            bgr = cv2.imread(str(path))
            if bgr is None:
                continue
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            result = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
            found += bool(result.face_landmarks)
        return time.perf_counter() - start, found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="use only the first N images (default: all)")
    parser.add_argument("--workers", type=int, default=0, help="worker processes (default: one per core)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds; the best of each side counts")
    args = parser.parse_args()
    if not (DATA / "manifest.csv").is_file():
        print(f"no benchmark data at {DATA}; see ../shared/data/README.md")
        return 1
    manifest = pd.read_csv(DATA / "manifest.csv")
    if args.limit:
        manifest = manifest.head(args.limit)
    n = len(manifest)
    base_times: list[float] = []
    ours_times: list[float] = []
    # Interleave the two measurements and keep each side's best, so a burst of other load hits both alike.
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            csv_path = Path(tmp) / "manifest.csv"
            manifest.assign(path=[str(DATA / p) for p in manifest.path]).to_csv(csv_path, index=False)
            settings = Settings(data_root=Path(tmp) / "data", database_url=None, extract_workers=args.workers)
            store = Store(settings)
            import_manifest(store, csv_path)  # not timed: the benchmark is about extraction
            paths = [store.absolute_path(r) for r in store.list_images()]

            base_s, base_found = bare_loop(paths, settings.face_landmarker_path)
            start = time.perf_counter()
            report = extract_store(store, workers=args.workers or None)
            ours_s = time.perf_counter() - start
            dispose_engine(settings.resolved_database_url)
        base_times.append(base_s)
        ours_times.append(ours_s)
        print(f"  round: bare {n / base_s:6.1f} img/s, project {n / ours_s:6.1f} img/s")
    base_s, ours_s = min(base_times), min(ours_times)

    base_ips, ours_ips = n / base_s, n / ours_s
    print(f"images: {n} from {DATA}")
    print(
        f"bare FaceLandmarker loop (1 process, best of {args.rounds}): {base_ips:7.1f} img/s  faces found {base_found}"
    )
    print(
        f"project batch extraction (best of {args.rounds}, workers={args.workers or 'auto'}, pool start and DB writes "
        "included): "
        f"{ours_ips:7.1f} img/s  faces found {report.ok}"
    )
    print(f"ratio project/bare: {ours_ips / base_ips:.2f}x  (goal >= 1.7x on 2 cores)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
