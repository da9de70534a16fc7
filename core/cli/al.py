"""`python -m core al pool|score|label|simulate|retrain`: the active-learning loop from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.cli.inline import add_submit_flag
from core.settings import get_settings

# Heavy modules (sklearn, google-genai, MediaPipe) load inside the commands, so other commands start fast.


def register(subparsers: Any) -> None:
    from core.active_learning.kinds import LabelingParams, RoundParams, ScoringParams, SimulationParams
    from core.cli.activation import add_activation_flags
    from core.cli.params import add_params

    p = subparsers.add_parser("al", help="active learning: pool, score, label, simulate, retrain")
    sub = p.add_subparsers(dest="al_command", metavar="STEP", required=True)

    pool = sub.add_parser("pool", help="import a folder into the unlabeled pool and extract landmarks")
    pool.add_argument("folder", type=Path, help="e.g. dataset/random_expressions")
    add_submit_flag(pool)
    pool.set_defaults(func=run_pool)

    score = sub.add_parser("score", help="score the pool with a model and queue the top K most uncertain faces")
    add_params(score, ScoringParams, flags={"model_id": "--model", "k": "-k"})
    add_submit_flag(score)
    score.set_defaults(func=run_score)

    label = sub.add_parser("label", help="ask Gemini for label proposals of the queued images (re-run resumes)")
    add_params(label, LabelingParams, exclude={"image_ids"})
    add_submit_flag(label)
    label.set_defaults(func=run_label)

    sim = sub.add_parser("simulate", help="uncertainty vs random sampling on labeled faces whose labels are hidden")
    add_params(sim, SimulationParams, flags={"feature_sets": "--features"})
    add_submit_flag(sim)
    sim.set_defaults(func=run_simulate)

    rt = sub.add_parser("retrain", help="retrain on the training set, score on the held-out set, record the round")
    add_params(rt, RoundParams, exclude={"activation"}, flags={"feature_sets": "--features"})
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
    from core.active_learning.kinds import AL_POOL_KIND, PoolParams
    from core.cli.inline import run_job

    result = run_job(args, AL_POOL_KIND, PoolParams(folder=str(args.folder)), unit="img")
    if result is None:
        return 0
    print(f"pool: {result.summary}")
    for name, reason in result.skipped[:20]:
        print(f"  skipped {name}: {reason}")
    batch = result.extracted
    if batch is not None:
        print(f"landmarks: {batch.ok} faces, {batch.no_face} without a face, {batch.errors} errors")
    return 0


def run_score(args: argparse.Namespace) -> int:
    from core.active_learning.kinds import AL_SCORING_KIND, ScoringParams
    from core.active_learning.review_queue import queue_items
    from core.cli.inline import run_job
    from core.cli.params import params_from
    from core.store import Store

    params = params_from(args, ScoringParams)
    result = run_job(args, AL_SCORING_KIND, params, unit="step")
    if result is None:
        return 0
    print(f"model {result.model_id}, {params.strategy}: {result.summary}")
    for item in queue_items(Store(get_settings())):
        print(
            f"  #{item.image_id}\tscore {item.score:.3f}\t{item.predicted} {item.confidence:.0%}\t{item.original_name}"
        )
    return 0


def run_label(args: argparse.Namespace) -> int:
    from core.active_learning.kinds import LLM_LABELING_KIND, LabelingParams
    from core.cli.inline import run_job
    from core.cli.params import params_from
    from core.gemini.client import resolve_key

    resolve_key(get_settings())  # MissingApiKey explains how to set one, before anything is queued
    result = run_job(args, LLM_LABELING_KIND, params_from(args, LabelingParams), unit="img")
    if result is None:
        return 0
    print(f"labeling: {result.summary}")
    for image_id, reason in result.failures[:20]:
        print(f"  #{image_id}: {reason}")
    return 1 if result.failed else 0


def run_simulate(args: argparse.Namespace) -> int:
    from core.active_learning.kinds import AL_SIMULATION_KIND, SimulationParams
    from core.cli.inline import run_job
    from core.cli.params import params_from

    result = run_job(args, AL_SIMULATION_KIND, params_from(args, SimulationParams), unit="round", threaded=True)
    if result is None:
        return 0
    print(f"{result.n_faces} labeled faces, {result.n_emotions} emotions; labels hidden and revealed round by round")
    print(f"held-out faces: {result.held_out}; pool: {result.pool}")
    print("round\tlabels\tuncertainty\trandom")
    for row in result.rows:
        print(f"{row.round}\t{row.labels}\t{row.uncertainty_f1:.3f}\t{row.random_f1:.3f}")
    needed = result.labels_to_match_random
    if result.labels and result.random_f1:
        print(
            f"random reaches macro-F1 {result.random_f1[-1]:.3f} with {result.labels[-1]} labels; uncertainty "
            + (f"reaches it with {needed}" if needed is not None else "does not reach it")
        )
    return 0


def run_retrain(args: argparse.Namespace) -> int:
    from core.active_learning.kinds import AL_ROUND_KIND, RoundParams
    from core.active_learning.rounds import make_held_out
    from core.cli.inline import run_job
    from core.cli.params import params_from
    from core.store import Store

    if args.make_held_out is not None:
        print(f"held-out set: {make_held_out(Store(get_settings()), fraction=args.make_held_out)} faces")
    result = run_job(args, AL_ROUND_KIND, params_from(args, RoundParams), unit="round")
    if result is None:
        return 0
    print(
        f"round {result.round_id}: model {result.model_id}, {result.n_labels} labels, macro-F1 "
        f"{result.macro_f1:.3f} on {result.n_held_out} held-out faces"
    )
    print(result.activation_message)
    return 0
