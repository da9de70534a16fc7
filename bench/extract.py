"""Benchmark: the project's batch extraction against a bare single-process FaceLandmarker loop, same images, same run.

Usage: python bench/extract.py [--limit N] [--workers W] [--executor local|ray]
Prints images/second for both and their ratio (goal: >= 1.7x on a 2-core machine).

--executor ray runs EXECUTOR=ray (a Ray started in this process, or RAY_ADDRESS) on the same images in the same run,
next to its baseline, the local process pool, and prints `ratio ray/local` (goal >= 0.95x). That ratio is of
steady-state rates, measured the same way for both: from a third of the images done to the last, so the start-up of
the workers (process pool or Ray actors, each loading a FaceLandmarker) is excluded for both (see Clock). Per-round
ratios (local and Ray back to back) and the end-to-end rates, start-up included, are printed beside it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import cv2
import mediapipe as mp
import pandas as pd
from mediapipe.tasks.python import BaseOptions, vision

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.db import dispose_engine
from core.ingest import import_manifest
from core.landmarks.batch import BatchReport, extract_store
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


def copy_inputs(manifest: pd.DataFrame, folder: Path) -> Path:
    """Copy the images beside a manifest of relative paths (imports refuse paths that leave the manifest's folder)."""
    for rel in manifest.path:
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(DATA / rel, folder / rel)
    manifest.to_csv(folder / "manifest.csv", index=False)
    return folder / "manifest.csv"


class Clock:
    """A progress callback that measures the steady-state rate: from the moment a third of the images are done to the
    last. Workers do not all start at the same moment (a Ray actor is a fresh process that imports the project and
    loads its landmarker, some 0.5 s apart from the other on a busy machine; forked pool workers are nearly level),
    so the rate from the first finished chunk still counts the start-up of the later workers. The same rule holds
    for both executors; `first_chunk_ips` is the older measure, printed beside it."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first: tuple[float, int] | None = None
        self.warm: tuple[float, int] | None = None
        self.last: tuple[float, int] = (self.start, 0)

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if done and self.first is None:
            self.first = (now, done)
        if done >= total / 3 and self.warm is None:
            self.warm = (now, done)
        self.last = (now, done)

    def _rate(self, since: tuple[float, int] | None) -> float:
        if since is None or self.last[1] <= since[1]:
            return float("nan")
        return (self.last[1] - since[1]) / (self.last[0] - since[0])

    def steady_ips(self) -> float:
        return self._rate(self.warm)

    def first_chunk_ips(self) -> float:
        return self._rate(self.first)


def run_project(store: Store, executor: str, workers: int) -> tuple[float, Clock, BatchReport]:
    """(end-to-end seconds, the progress clock, report) of extract_store on the given executor."""
    settings = store.settings.model_copy(update={"executor": executor})
    clock = Clock()
    report = extract_store(Store(settings), workers=workers or None, progress=clock)
    return time.perf_counter() - clock.start, clock, report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="use only the first N images (default: all)")
    parser.add_argument("--workers", type=int, default=0, help="worker processes or actors (default: one per core)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds; the best of each side counts")
    parser.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="local: the process pool vs a bare loop; ray: Ray actors vs the local process pool",
    )
    args = parser.parse_args()
    if not (DATA / "manifest.csv").is_file():
        print(f"no benchmark data at {DATA}; see ../shared/data/README.md")
        return 1
    manifest = pd.read_csv(DATA / "manifest.csv")
    if args.limit:
        manifest = manifest.head(args.limit)
    n = len(manifest)
    executors = ["local", "ray"] if args.executor == "ray" else ["local"]
    base_times: list[float] = []
    ours: dict[str, list[tuple[float, float, float]]] = {e: [] for e in executors}
    reports: dict[str, BatchReport] = {}
    # Interleave the measurements and keep each side's best, so a burst of other load hits all alike.
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            csv_path = copy_inputs(manifest, Path(tmp) / "inputs")
            line = []
            if args.executor == "local":
                settings = Settings(data_root=Path(tmp) / "data", database_url=None, extract_workers=args.workers)
                store = Store(settings)
                import_manifest(store, csv_path)  # not timed: the benchmark is about extraction
                paths = [store.absolute_path(r) for r in store.list_images()]
                base_s, base_found = bare_loop(paths, settings.face_landmarker_path)
                base_times.append(base_s)
                line.append(f"bare {n / base_s:6.1f} img/s")
                dispose_engine(settings.resolved_database_url)
            for executor in executors:
                settings = Settings(
                    data_root=Path(tmp) / executor, database_url=None, extract_workers=args.workers, executor=executor
                )
                store = Store(settings)
                import_manifest(store, csv_path)
                seconds, clock, reports[executor] = run_project(store, executor, args.workers)
                ours[executor].append((seconds, clock.steady_ips(), clock.first_chunk_ips()))
                line.append(f"{executor} {n / seconds:6.1f} img/s ({clock.steady_ips():6.1f} steady)")
                dispose_engine(settings.resolved_database_url)
        print("  round: " + ", ".join(line), flush=True)

    print(f"images: {n} from {DATA}")
    best = {e: (min(r[0] for r in runs), max(r[1] for r in runs), max(r[2] for r in runs)) for e, runs in ours.items()}
    if args.executor == "local":
        base_ips, ours_ips = n / min(base_times), n / best["local"][0]
        print(
            f"bare FaceLandmarker loop (1 process, best of {args.rounds}): {base_ips:7.1f} img/s  "
            f"faces found {base_found}"
        )
        print(
            f"project batch extraction (best of {args.rounds}, workers={args.workers or 'auto'}, pool start and DB "
            f"writes included): {ours_ips:7.1f} img/s  faces found {reports['local'].ok}"
        )
        print(f"ratio project/bare: {ours_ips / base_ips:.2f}x  (goal >= 1.7x on 2 cores)")
        return 0
    for executor, (seconds, steady, _) in best.items():
        print(
            f"{executor:5} executor (best of {args.rounds}, workers={args.workers or 'auto'}): {steady:7.1f} img/s "
            f"steady state, {n / seconds:7.1f} img/s with start-up  faces found {reports[executor].ok}"
        )
    if len(best) == 2:
        ratio = best["ray"][1] / best["local"][1]
        ratio_all = best["local"][0] / best["ray"][0]
        paired = sorted(ray[1] / local[1] for local, ray in zip(ours["local"], ours["ray"], strict=True))
        print(f"ratio ray/local: {ratio:.2f}x  (steady state, start-up excluded for both; goal >= 0.95x)")
        print(f"ratio ray/local per round: {', '.join(f'{r:.2f}x' for r in paired)} (median {median(paired):.2f}x)")
        print(f"ratio ray/local from the first chunk: {best['ray'][2] / best['local'][2]:.2f}x  (older measure)")
        print(f"ratio ray/local with start-up: {ratio_all:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
