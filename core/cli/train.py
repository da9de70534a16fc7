"""`python -m core train`, `python -m core evaluate` and
`python -m core models list|activate|history|rollback|delete`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.errors import StudioError


def register(sub: Any) -> None:
    from core.cli.jobs import add_submit_flag

    train = sub.add_parser("train", help="compare landmark models by grid search on the store's labeled faces")
    train.set_defaults(func=cmd_train, configure=_train_arguments)  # its choices import scikit-learn

    ev = sub.add_parser(
        "evaluate", help="evaluate a model on a folder or a manifest CSV (path,label) of images, or on a suite"
    )
    ev.add_argument("path", type=Path, nargs="?", help="folder or manifest .csv (not with --suite)")
    ev.add_argument("--suite", default=None, metavar="NAME", help="an evaluation suite: one line a domain")
    ev.add_argument("--model", default=None, help="model id (default: the active model)")
    ev.add_argument("--out", type=Path, default=Path("predictions.csv"), help="predictions CSV to write")
    add_submit_flag(ev)
    ev.set_defaults(func=cmd_evaluate)

    models = sub.add_parser("models", help="list, activate or delete registered models")
    msub = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    msub.add_parser("list", help="list models, newest first").set_defaults(func=cmd_models_list)
    act = msub.add_parser("activate", help="make a model the active one")
    act.add_argument("model_id")
    act.set_defaults(func=cmd_models_activate)
    msub.add_parser("history", help="every activation: when, who, which model replaced which, and why").set_defaults(
        func=cmd_models_history
    )
    rb = msub.add_parser("rollback", help="re-activate the model the latest activation replaced (or --to ID)")
    rb.add_argument("--to", default=None, metavar="ID", help="a model to roll back to")
    rb.set_defaults(func=cmd_models_rollback)
    rm = msub.add_parser("delete", help="delete a model")
    rm.add_argument("model_id")
    rm.set_defaults(func=cmd_models_delete)


def _train_arguments(train: argparse.ArgumentParser) -> None:
    from core.cli.activation import add_activation_flags
    from core.cli.jobs import add_submit_flag
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
    from core.cli.jobs import run_job
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


def cmd_evaluate_suite(args: argparse.Namespace) -> int:
    """One line a domain, then the worst domain (the figure promotion looks at)."""
    import sys

    from core.cli.jobs import run_job
    from core.suites.evaluate import SuiteEvaluation
    from core.suites.kinds import SUITE_EVALUATION_KIND, SuiteEvaluationParams

    params = SuiteEvaluationParams(suite=args.suite, model_ids=[args.model] if args.model else [])
    result = run_job(args, SUITE_EVALUATION_KIND, params, unit="model")
    if result is None:
        return 0
    if result.warning:
        print(f"warning: {result.warning}", file=sys.stderr)
    evaluation = SuiteEvaluation.model_validate(result.evaluation)
    score = evaluation.models[0]
    if score.error:
        raise StudioError(f"model {score.model_id} could not be scored: {score.error}")
    for domain in score.domains:
        print(domain.line())
    print(score.worst_line())
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from core.batch_evaluation import BATCH_EVALUATION_KIND, BatchEvaluationParams
    from core.cli.jobs import run_job

    if args.suite is not None:
        if args.path is not None:
            raise StudioError("give either a PATH or --suite NAME, not both")
        return cmd_evaluate_suite(args)
    if args.path is None:
        raise StudioError("give a folder or manifest PATH to evaluate on, or --suite NAME")

    params = BatchEvaluationParams(path=str(args.path), model_id=args.model, out=str(args.out))
    result = run_job(args, BATCH_EVALUATION_KIND, params, unit="img")
    if result is None:
        return 0
    print(f"model {result.model_id}: {result.n_images} images, predictions written to {args.out}")
    if result.no_face:
        print(f"{len(result.no_face)} image(s) without a face:")
        for path in result.no_face:
            print(f"  {path}")
    if result.errors:
        print(f"{len(result.errors)} unreadable file(s):")
        for path, message in result.errors:
            print(f"  {path}: {message}")
    metrics = result.metrics
    if metrics is None:
        print("no labeled image with a face: no accuracy to report")
        return 0
    print(f"accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}  (n={metrics['n_scored']})")
    labels = metrics["labels"]
    width = max(len(x) for x in labels) + 1
    col = max(width, 7)  # whole class names in the header ("surprise", "contempt"), never cut
    print("confusion matrix (rows: true, columns: predicted)")
    print(" " * width + " ".join(f"{x:>{col}}" for x in labels))
    for label, row in zip(labels, metrics["confusion_matrix"], strict=True):
        print(f"{label:<{width}}" + " ".join(f"{v:>{col}}" for v in row))
    return 0


def cmd_models_list(args: argparse.Namespace) -> int:
    from core.registry import Registry
    from core.settings import get_settings

    registry = Registry(get_settings().models_dir)
    active = registry.active_id()
    cards = registry.list()
    if not cards:
        print("no models yet: python -m core train")
        return 0
    for card in cards:
        mark = "*" if card.id == active else " "
        f1 = card.metrics.get("macro_f1")
        score = f"macro-F1 {f1:.3f}" if isinstance(f1, int | float) else ""
        print(f"{mark} {card.id:<48} {card.kind:<9} {card.name:<14} {score:<16} {','.join(card.classes)}")
    return 0


def cmd_models_activate(args: argparse.Namespace) -> int:
    from core.registry import Registry
    from core.settings import get_settings
    from core.training.promotion import activate_compared

    record = activate_compared(Registry(get_settings().models_dir), args.model_id)
    print(f"{args.model_id} is now the active model (was {record.previous_id or 'none'})")
    return 0


def cmd_models_history(args: argparse.Namespace) -> int:
    from core.registry import Registry
    from core.settings import get_settings

    records = Registry(get_settings().models_dir).history()
    if not records:
        print("no activation on record")
    for r in records:
        f1 = ""
        if r.comparison:
            cand, inc = r.comparison.get("candidate") or {}, r.comparison.get("incumbent") or {}
            if cand.get("macro_f1") is not None:
                f1 = f"macro-F1 {cand['macro_f1']:.3f}"
                if inc.get("macro_f1") is not None:
                    f1 += f" vs {inc['macro_f1']:.3f}"
        print(f"{r.at:%Y-%m-%d %H:%M:%S}  {r.reason:<8} {r.model_id}  (was {r.previous_id or 'none'})  {r.actor}  {f1}")
    return 0


def cmd_models_rollback(args: argparse.Namespace) -> int:
    from core.registry import Registry
    from core.settings import get_settings

    record = Registry(get_settings().models_dir).rollback(args.to)
    print(f"rolled back: {record.model_id} is the active model again (was {record.previous_id or 'none'})")
    return 0


def cmd_models_delete(args: argparse.Namespace) -> int:
    from core.registry import Registry
    from core.settings import get_settings

    Registry(get_settings().models_dir).delete(args.model_id)
    print(f"deleted {args.model_id}")
    return 0
