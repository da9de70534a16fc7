"""Active-learning benchmark on the shared labeled faces (research use only; never committed).

Run: `python bench/active_learning.py` (from the repository root). It hides the labels of faces-dev, holds out a
fixed quarter of the persons, and reveals labels round by round, either the faces the model is least sure about
(uncertainty sampling) or random ones, retraining the same classifier each round. It prints macro-F1 after each round
for both strategies and the number of labels uncertainty sampling needs to reach the macro-F1 that random sampling
reaches with all of its labels, as a ratio (the project's figure next to the bare baseline, random sampling).

It also times the queue selection (uncertainty + near-duplicate skipping by aligned landmarks) against a bare
top-K argsort of the same scores, as a ratio.

Landmarks are extracted once into a cache outside git (`--cache`, default /tmp/landmark_cache, shared with
bench/train.py, which builds it when absent).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from threadpoolctl import threadpool_limits  # noqa: E402

from core.active_learning.diversity import DEFAULT_MIN_DISTANCE, aligned_shapes, select_diverse  # noqa: E402
from core.active_learning.simulation import simulate  # noqa: E402
from core.active_learning.uncertainty import uncertainty  # noqa: E402
from core.features.raw import arrays_to_matrix  # noqa: E402
from core.training.zoo import make_pipeline  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def load_faces_dev(cache: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(raw rows, labels, persons, landmarks) of faces-dev, from bench/train.py's cache (built there if absent)."""
    spec = importlib.util.spec_from_file_location("bench_train", ROOT / "bench" / "train.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    cached = module.load_cache(cache, "faces-dev")
    x = arrays_to_matrix(cached.landmarks, cached.blendshapes, cached.transforms)
    return x, cached.labels, cached.groups, cached.landmarks


def time_selection(x: np.ndarray, y: np.ndarray, landmarks: np.ndarray, k: int, features: list[str]) -> None:
    """Queue selection on the whole set as a pool, against a bare argsort of the same scores."""
    rng = np.random.default_rng(0)
    seed_idx = rng.choice(len(y), size=200, replace=False)
    pipe = make_pipeline("logistic_regression", features, 0).fit(x[seed_idx], y[seed_idx])
    proba = pipe.predict_proba(x)
    t0 = time.perf_counter()
    scores = uncertainty(proba, "entropy")
    order = np.argsort(-scores, kind="stable")
    shapes = aligned_shapes(landmarks)
    kept, skipped = select_diverse(order.tolist(), shapes, k, DEFAULT_MIN_DISTANCE)
    ours = time.perf_counter() - t0
    t1 = time.perf_counter()
    bare = np.argsort(-(1 - proba.max(axis=1)))[:k]
    baseline = time.perf_counter() - t1
    print(
        f"\nqueue selection of K={k} from {len(y)} faces: {1000 * ours:.1f} ms (entropy + aligned-landmark "
        f"near-duplicate skipping, {len(skipped)} skipped) vs bare top-K argsort {1000 * baseline:.2f} ms: "
        f"ratio {ours / max(baseline, 1e-9):.0f}x, {1000 * ours / len(y):.3f} ms per pool face"
    )
    assert len(kept) == min(k, len(bare))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/landmark_cache"))
    parser.add_argument("--strategy", default="entropy", help="least_confidence, margin or entropy")
    parser.add_argument("--initial", type=int, default=40)
    parser.add_argument("--batch", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--classifier", default="logistic_regression")
    parser.add_argument("--features", default="geometry,blendshapes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-k", type=int, default=100, help="queue size for the selection timing")
    args = parser.parse_args(argv)
    if not (DATA / "faces-dev").is_dir() and not (args.cache / "faces-dev.npz").is_file():
        print(f"{DATA / 'faces-dev'} is absent; nothing to benchmark")
        return 0
    features = [f.strip() for f in args.features.split(",") if f.strip()]
    with threadpool_limits(1):  # a shared 2-core machine: one BLAS thread keeps timings honest
        x, y, groups, landmarks = load_faces_dev(args.cache)
        print(f"faces-dev: {len(y)} faces, {len(np.unique(groups))} persons, {len(np.unique(y))} emotions")
        print(f"{args.classifier} on {'+'.join(features)}; {args.strategy} vs random; seed {args.seed}")
        t0 = time.perf_counter()
        result = simulate(
            x,
            y,
            groups=groups,
            strategy=args.strategy,
            initial=args.initial,
            batch=args.batch,
            rounds=args.rounds,
            model_name=args.classifier,
            feature_sets=features,
            seed=args.seed,
            progress=lambda d, t: print(f"  round {d}/{t} ({time.perf_counter() - t0:.0f} s)", flush=True),
        )
        print(f"held-out faces (whole persons): {result.held_out}; pool: {result.pool}\n")
        print("round  labels  uncertainty  random")
        for row in result.rows():
            print(f"{row['round']:>5}  {row['labels']:>6}  {row['uncertainty_f1']:>11.3f}  {row['random_f1']:>6.3f}")
        target, budget = result.random_f1[-1], result.labels[-1]
        needed = result.labels_to_match_random()
        if needed is None:
            print(f"\nuncertainty sampling does not reach random's final macro-F1 {target:.3f} within {budget} labels")
        else:
            print(
                f"\nrandom sampling reaches macro-F1 {target:.3f} with {budget} labels; uncertainty sampling reaches "
                f"it with {needed}: ratio {needed / budget:.2f} ({budget / needed:.1f}x fewer labels)"
            )
        best = max(result.random_f1)
        at = result.labels[result.random_f1.index(best)]
        reach = result.labels_to_reach(best)
        print(
            f"random's best macro-F1 is {best:.3f} (at {at} labels); uncertainty sampling reaches it with "
            + (f"{reach}" if reach is not None else f"more than {budget}")
        )
        gain = np.mean(np.array(result.uncertainty_f1[1:]) - np.array(result.random_f1[1:]))
        print(f"mean macro-F1 gain of uncertainty over random across rounds 1-{args.rounds}: {gain:+.3f}")
        time_selection(x, y, landmarks, args.k, features)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
