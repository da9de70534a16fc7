"""`python -m core train`: compare landmark models by grid search (its flags: core.training.kinds)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    train = sub.add_parser("train", help="compare landmark models by grid search on the store's labeled faces")
    train.set_defaults(func=cmd_train, configure=_train_arguments)  # its choices import scikit-learn


def _train_arguments(train: argparse.ArgumentParser) -> None:
    from core.cli.activation import add_activation_flags
    from core.cli.inline import add_submit_flag
    from core.cli.params import add_params
    from core.features import DEFAULT_FEATURE_SETS, FEATURE_SETS
    from core.schema import EMOTIONS, SOURCES
    from core.training.kinds import LandmarkTrainingParams
    from core.training.zoo import DEFAULT_MODELS, MODEL_ZOO, PRESETS

    add_params(
        train,
        LandmarkTrainingParams,
        exclude={"grids", "activation", "suite", "use_suite"},
        flags={"feature_sets": "--features", "n_jobs": "--jobs"},
        options={
            "models": {"default": list(DEFAULT_MODELS), "choices": list(MODEL_ZOO)},
            "feature_sets": {"default": list(DEFAULT_FEATURE_SETS), "choices": list(FEATURE_SETS)},
            "preset": {"choices": list(PRESETS)},
            "emotions": {"choices": EMOTIONS},
            "sources": {"choices": SOURCES},
        },
    )
    add_activation_flags(train)
    compare = train.add_mutually_exclusive_group()
    compare.add_argument(
        "--suite",
        default=None,
        metavar="NAME",
        help="compare with the active model on this evaluation suite (default: the last used suite, if any)",
    )
    compare.add_argument(
        "--no-suite", action="store_true", help="compare with the active model on the held-out split, not a suite"
    )
    add_submit_flag(train)


def cmd_train(args: argparse.Namespace) -> int:
    from core.cli.activation import report_promotion
    from core.cli.inline import run_job
    from core.cli.params import params_from
    from core.training.kinds import LANDMARK_TRAINING_KIND, LandmarkTrainingParams
    from core.training.report import ModelReport, comparison_table

    params = params_from(args, LandmarkTrainingParams, suite=args.suite, use_suite=not args.no_suite)
    result = run_job(args, LANDMARK_TRAINING_KIND, params, unit="model")
    if result is None:
        return 0
    counts = result.class_counts
    print(f"{result.n_faces} labeled faces: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print(f"held-out set: {result.holdout}")
    print(comparison_table([ModelReport(**r) for r in result.reports]).to_string(index=False))
    if result.best is not None:
        print(
            f"best by held-out macro-F1: {result.best_name} ({result.best_macro_f1 or 0:.3f} on the held-out split: "
            f"{result.holdout}) -> {result.best}"
        )
        report_promotion(result)
    return 0
