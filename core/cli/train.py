"""`python -m core train`, `python -m core evaluate` and
`python -m core models list|activate|history|rollback|delete`."""

from __future__ import annotations

import argparse
import threading
from pathlib import Path
from typing import Any

from core.errors import StudioError


def register(sub: Any) -> None:
    from core.cli.activation import add_activation_flags
    from core.features import DEFAULT_FEATURE_SETS, FEATURE_SETS
    from core.schema import EMOTIONS, SOURCES
    from core.training.zoo import DEFAULT_MODELS, MODEL_ZOO, PRESETS

    train = sub.add_parser("train", help="compare landmark models by grid search on the store's labeled faces")
    train.add_argument("--models", nargs="+", default=list(DEFAULT_MODELS), choices=list(MODEL_ZOO))
    train.add_argument("--features", nargs="+", default=list(DEFAULT_FEATURE_SETS), choices=list(FEATURE_SETS))
    train.add_argument("--preset", default="quick", choices=list(PRESETS))
    train.add_argument("--folds", type=int, default=None, help="CV folds (default: the preset's)")
    train.add_argument("--emotions", nargs="+", default=[], choices=EMOTIONS, help="train on these emotions only")
    train.add_argument("--sources", nargs="+", default=[], choices=SOURCES, help="only images from these sources")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--jobs", type=int, default=1, help="parallel CV fits")
    add_activation_flags(train)
    train.set_defaults(func=cmd_train)

    ev = sub.add_parser("evaluate", help="evaluate a model on a folder or a manifest CSV (path,label) of images")
    ev.add_argument("path", type=Path)
    ev.add_argument("--model", default=None, help="model id (default: the active model)")
    ev.add_argument("--out", type=Path, default=Path("predictions.csv"), help="predictions CSV to write")
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


def cmd_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from core.cli.activation import promote_and_report
    from core.registry import Registry
    from core.settings import get_settings
    from core.store import Store
    from core.store.repository import Filters
    from core.training.compare import ComparisonResult, compare_models
    from core.training.data import from_store
    from core.training.landmark_registry import save_comparison, save_report
    from core.training.report import ModelReport, comparison_table
    from core.training.zoo import HYBRID_MODELS

    settings = get_settings()
    store = Store(settings)
    # faceapi_blend reads face-api's network rows too (computed once per face, cached under the data root).
    hybrid = any(m in HYBRID_MODELS for m in args.models)
    filters = Filters(emotions=args.emotions, sources=args.sources)
    data = from_store(store, filters, network=hybrid)
    print(f"{len(data)} labeled faces: " + ", ".join(f"{k} {v}" for k, v in data.class_counts().items()))
    bar = tqdm(total=len(args.models), unit="model")

    def progress(done: int, total: int, message: str) -> None:
        bar.n = done
        bar.set_description(message)
        bar.refresh()

    registry = Registry(settings.models_dir)

    def save(result: ComparisonResult, report: ModelReport) -> None:
        # Saved as each model finishes: Ctrl-C loses only the model in progress.
        save_report(registry, result, report, data_sources=data.sources)

    cancel = threading.Event()
    try:
        result = compare_models(
            data,
            models=args.models,
            feature_sets=args.features,
            preset_name=args.preset,
            folds=args.folds,
            seed=args.seed,
            n_jobs=args.jobs,
            progress=progress,
            cancel=cancel,
            on_model=save,
        )
    finally:
        bar.close()
    save_comparison(registry, result, data_sources=data.sources)
    table = comparison_table(result.reports)
    print(f"held-out set: {result.holdout}")
    print(table.to_string(index=False))
    best = result.best
    if best is not None and best.model_id:
        print(f"best by held-out macro-F1: {best.name} ({best.macro_f1:.3f}) -> {best.model_id}")
        promote_and_report(registry, store, best.model_id, args, filters=filters, seed=args.seed)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from core.evaluation import evaluate_items, items_from_path
    from core.inference import Recognizer
    from core.landmarks.extractor import LandmarkExtractor
    from core.registry import Registry
    from core.settings import get_settings

    settings = get_settings()
    registry = Registry(settings.models_dir)
    model_id = args.model or registry.active_id()
    if model_id is None:
        raise StudioError("no model to evaluate: train one (python -m core train) or pass --model ID")
    model = registry.load(model_id)
    items = items_from_path(args.path)
    if not items:
        raise StudioError(f"no images found in {args.path}")
    extractor = LandmarkExtractor(settings, mode="image") if model.needs_landmarks else None
    bar = tqdm(total=len(items), unit="img")

    def progress(done: int, total: int) -> None:
        bar.n = done
        bar.refresh()

    try:
        result = evaluate_items(Recognizer(model, extractor), items, progress=progress)
    finally:
        bar.close()
        if extractor is not None:
            extractor.close()
    result.to_csv(args.out)
    print(f"model {model_id}: {len(items)} images, predictions written to {args.out}")
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
