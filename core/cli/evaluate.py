"""`python -m core evaluate`: a model on a folder or manifest CSV of images, or on an evaluation suite."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.errors import StudioError


def register(sub: Any) -> None:
    from core.cli.inline import add_submit_flag

    ev = sub.add_parser(
        "evaluate", help="evaluate a model on a folder or a manifest CSV (path,label) of images, or on a suite"
    )
    ev.add_argument("path", type=Path, nargs="?", help="folder or manifest .csv (not with --suite)")
    ev.add_argument("--suite", default=None, metavar="NAME", help="an evaluation suite: one line a domain")
    ev.add_argument("--model", default=None, help="model id (default: the active model)")
    ev.add_argument("--out", type=Path, default=Path("predictions.csv"), help="predictions CSV to write")
    add_submit_flag(ev)
    ev.set_defaults(func=cmd_evaluate)


def cmd_evaluate_suite(args: argparse.Namespace) -> int:
    """One line a domain, then the worst domain (the figure promotion looks at)."""
    import sys

    from core.cli.inline import run_job
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
    from core.cli.inline import run_job

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
