"""`python -m core al pool|score|label|simulate|retrain`: the active-learning loop from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.cli.jobs import add_submit_flag
from core.settings import get_settings

# Heavy modules (sklearn, google-genai, MediaPipe) load inside the commands, so other commands start fast.


def register(subparsers: Any) -> None:
    from core.cli.activation import add_activation_flags

    p = subparsers.add_parser("al", help="active learning: pool, score, label, simulate, retrain")
    sub = p.add_subparsers(dest="al_command", metavar="STEP", required=True)

    pool = sub.add_parser("pool", help="import a folder into the unlabeled pool and extract landmarks")
    pool.add_argument("folder", type=Path, help="e.g. dataset/random_expressions")
    add_submit_flag(pool)
    pool.set_defaults(func=run_pool)

    score = sub.add_parser("score", help="score the pool with a model and queue the top K most uncertain faces")
    score.add_argument("--strategy", default="entropy", help="least_confidence, margin or entropy")
    score.add_argument("-k", type=int, default=20, help="queue size")
    score.add_argument("--min-distance", type=float, default=None, help="near-duplicate landmark distance")
    score.add_argument("--model", default=None, help="model id (default: the active model)")
    add_submit_flag(score)
    score.set_defaults(func=run_score)

    label = sub.add_parser("label", help="ask Gemini for label proposals of the queued images (re-run resumes)")
    label.add_argument("--model", default=None, help="Gemini model (default GEMINI_LABEL_MODEL)")
    label.add_argument("--relabel", action="store_true", help="ask again for images that have a proposal")
    label.add_argument("--concurrency", type=int, default=None, help="requests in flight (default GEMINI_CONCURRENCY)")
    label.add_argument("--rpm", type=float, default=None, help="requests per minute (default GEMINI_RPM)")
    add_submit_flag(label)
    label.set_defaults(func=run_label)

    sim = sub.add_parser("simulate", help="uncertainty vs random sampling on labeled faces whose labels are hidden")
    sim.add_argument(
        "--npz", type=Path, default=None, help="a landmark cache (bench/train.py format) instead of the store"
    )
    sim.add_argument("--strategy", default="margin", help="least_confidence, margin or entropy")
    sim.add_argument("--initial", type=int, default=20, help="labels revealed before the first round")
    sim.add_argument("--batch", type=int, default=20, help="labels revealed per round")
    sim.add_argument("--rounds", type=int, default=10)
    sim.add_argument("--classifier", default="logistic_regression", help="a model of the training zoo")
    sim.add_argument("--features", default="blendshapes", help="comma-separated feature sets")
    sim.add_argument("--seed", type=int, default=0)
    add_submit_flag(sim)
    sim.set_defaults(func=run_simulate)

    rt = sub.add_parser("retrain", help="retrain on the training set, score on the held-out set, record the round")
    rt.add_argument("--classifier", default="logistic_regression", help="a model of the training zoo")
    rt.add_argument("--features", default="geometry,blendshapes", help="comma-separated feature sets")
    rt.add_argument(
        "--make-held-out",
        type=float,
        default=None,
        metavar="FRACTION",
        help="first fix a held-out set of this fraction of the labeled faces (only if none exists)",
    )
    add_activation_flags(rt)
    add_submit_flag(rt)
    rt.set_defaults(func=run_retrain)


def run_pool(args: argparse.Namespace) -> int:
    from core.cli.jobs import run_job
    from core.jobs.active_kinds import AL_POOL, PoolParams

    result = run_job(args, AL_POOL, PoolParams(folder=str(args.folder)), unit="img")
    if result is None:
        return 0
    print(f"pool: {result['summary']}")
    for name, reason in result["skipped"][:20]:
        print(f"  skipped {name}: {reason}")
    batch = result["extracted"]
    if batch is not None:
        print(f"landmarks: {batch['ok']} faces, {batch['no_face']} without a face, {batch['errors']} errors")
    return 0


def run_score(args: argparse.Namespace) -> int:
    from core.active.queue import queue_items
    from core.cli.jobs import run_job
    from core.jobs.active_kinds import AL_SCORING, ScoringParams
    from core.store import Store

    params = ScoringParams(model_id=args.model, strategy=args.strategy, k=args.k, min_distance=args.min_distance)
    result = run_job(args, AL_SCORING, params, unit="step")
    if result is None:
        return 0
    print(f"model {result['model_id']}, {args.strategy}: {result['summary']}")
    for item in queue_items(Store(get_settings())):
        print(
            f"  #{item.image_id}\tscore {item.score:.3f}\t{item.predicted} {item.confidence:.0%}\t{item.original_name}"
        )
    return 0


def run_label(args: argparse.Namespace) -> int:
    from core.cli.jobs import run_job
    from core.gemini.client import resolve_key
    from core.jobs.active_kinds import LLM_LABELING, LabelingParams

    resolve_key(get_settings())  # MissingApiKey explains how to set one, before anything is queued
    params = LabelingParams(model=args.model, relabel=args.relabel, concurrency=args.concurrency, rpm=args.rpm)
    result = run_job(args, LLM_LABELING, params, unit="img")
    if result is None:
        return 0
    print(f"labeling: {result['summary']}")
    for image_id, reason in result["failures"][:20]:
        print(f"  #{image_id}: {reason}")
    return 1 if result["failed"] else 0


def run_simulate(args: argparse.Namespace) -> int:
    from core.cli.jobs import run_job
    from core.jobs.active_kinds import AL_SIMULATION, SimulationParams

    params = SimulationParams(
        strategy=args.strategy,
        initial=args.initial,
        batch=args.batch,
        rounds=args.rounds,
        classifier=args.classifier,
        feature_sets=[f.strip() for f in args.features.split(",") if f.strip()],
        seed=args.seed,
        npz=str(args.npz) if args.npz is not None else None,
    )
    result = run_job(args, AL_SIMULATION, params, unit="round", threaded=True)
    if result is None:
        return 0
    print(
        f"{result['n_faces']} labeled faces, {result['n_emotions']} emotions; labels hidden and revealed round by round"
    )
    print(f"held-out faces: {result['held_out']}; pool: {result['pool']}")
    print("round\tlabels\tuncertainty\trandom")
    for row in result["rows"]:
        print(f"{row['round']}\t{row['labels']}\t{row['uncertainty_f1']:.3f}\t{row['random_f1']:.3f}")
    needed = result["labels_to_match_random"]
    if result["labels"] and result["random_f1"]:
        print(
            f"random reaches macro-F1 {result['random_f1'][-1]:.3f} with {result['labels'][-1]} labels; uncertainty "
            + (f"reaches it with {needed}" if needed is not None else "does not reach it")
        )
    return 0


def run_retrain(args: argparse.Namespace) -> int:
    from core.active.rounds import make_held_out
    from core.cli.activation import policy_of
    from core.cli.jobs import run_job
    from core.jobs.active_kinds import AL_ROUND, RoundParams
    from core.store import Store

    if args.make_held_out is not None:
        print(f"held-out set: {make_held_out(Store(get_settings()), fraction=args.make_held_out)} faces")
    features = [f.strip() for f in args.features.split(",") if f.strip()]
    params = RoundParams(classifier=args.classifier, feature_sets=features, activation=policy_of(args))
    result = run_job(args, AL_ROUND, params, unit="round")
    if result is None:
        return 0
    print(
        f"round {result['round_id']}: model {result['model_id']}, {result['n_labels']} labels, macro-F1 "
        f"{result['macro_f1']:.3f} on {result['n_held_out']} held-out faces"
    )
    print(result["activation_message"])
    return 0
