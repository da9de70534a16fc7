"""`python -m core detector train|evaluate`: the grid detector from the shell (its flags: core.detector.kinds).

Progress is a tqdm bar per epoch. Ctrl-C stops training after the current batch and still saves the best epoch.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TypeVar

from core.cli.inline import add_submit_flag
from core.errors import StudioError

T = TypeVar("T")


def register(sub: Any) -> None:
    from core.cli.activation import add_activation_flags
    from core.cli.params import add_params
    from core.detector.kinds import DetectorParams

    det = sub.add_parser("detector", help="single-stage grid detector: train, evaluate").add_subparsers(
        dest="detector_command", metavar="ACTION", required=True
    )
    t = det.add_parser("train", help="train on a YOLO folder (or on YOLO faces imported into the store)")
    src = t.add_mutually_exclusive_group(required=True)
    src.add_argument("--yolo", type=Path, help="YOLO dataset folder (data.yaml + train/ + valid/)")
    src.add_argument("--from-store", action="store_true", help="use labeled faces of the store (train/test status)")
    add_params(
        t, DetectorParams, exclude={"yolo", "activation"}, flags={"input_size": "--size", "batch_size": "--batch"}
    )
    add_activation_flags(t)
    add_submit_flag(t)
    t.set_defaults(func=cmd_detector_train)

    e = det.add_parser("evaluate", help="mAP@0.5, per-class AP, face recall, emotion accuracy on a YOLO split")
    e.add_argument("--model", required=True, help="detector model id")
    e.add_argument("--yolo", type=Path, required=True)
    e.add_argument("--split", default="valid")
    e.add_argument(
        "--compare",
        nargs="*",
        default=[],
        metavar="ID",
        help="also score these models (landmark, resnet) with MediaPipe on the same images",
    )
    e.set_defaults(func=cmd_detector_evaluate)


def cmd_detector_train(args: argparse.Namespace) -> int:
    from core.cli.activation import report_promotion
    from core.cli.inline import run_job
    from core.cli.params import params_from
    from core.detector.kinds import DETECTOR_TRAINING_KIND, DetectorParams

    params = params_from(args, DetectorParams, yolo=str(args.yolo) if args.yolo is not None else None)
    result = run_job(args, DETECTOR_TRAINING_KIND, params, unit="epoch", threaded=True)
    if result is None:
        return 0
    print(f"{result.n_train} training and {result.n_val} validation images, classes: {', '.join(result.classes)}")
    m = result.metrics
    if m is not None:
        print(
            f"mAP@0.5 {m['map50']:.3f}  face recall {m['face_recall']:.3f}  "
            f"emotion accuracy {m['emotion_accuracy']:.3f}"
        )
    print(f"saved model {result.model_id}")
    report_promotion(result)
    return 0


def cmd_detector_evaluate(args: argparse.Namespace) -> int:
    from core.detector.data import samples_from_yolo, yolo_class_map
    from core.detector.model import DetectorModel
    from core.detector.train import evaluate_net
    from core.models.registry import Registry
    from core.settings import get_settings
    from core.yolo import read_yolo_dataset

    settings = get_settings()
    registry = Registry(settings.models_dir)
    model = registry.load(args.model)
    if not isinstance(model, DetectorModel):
        raise StudioError(f"model {args.model} is a {model.card.kind} model, not a detector")
    ds = read_yolo_dataset(args.yolo)
    items = ds.splits.get(args.split)
    if not items:
        raise StudioError(f"{args.yolo} has no split {args.split!r}; it has {', '.join(ds.splits)}")
    unknown = [e for e in ds.emotions if e not in model.classes]
    if unknown:
        raise StudioError(f"the dataset has classes the model does not predict: {', '.join(unknown)}")
    samples = samples_from_yolo(items, yolo_class_map(ds.emotions, model.classes), model.input_size)
    m = evaluate_net(model.net, model.spec, samples, model.classes, device=model.device)
    print(f"{len(samples)} images, {m.num_faces} faces")
    print(
        f"mAP@0.5 {m.map50:.3f}  face recall {m.face_recall:.3f}  precision {m.face_precision:.3f}  "
        f"emotion accuracy on matched faces {m.emotion_accuracy:.3f}"
    )
    for name, ap in m.per_class_ap.items():
        print(f"  AP {name:10s} {ap:.3f}")
    if args.compare:
        from core.cli.inline import run_job
        from core.detector.kinds import PIPELINE_COMPARISON_KIND, PipelineComparisonParams

        models = {args.model: args.model} | {other: other for other in args.compare}
        params = PipelineComparisonParams(dataset=str(args.yolo), models=models, split=args.split)
        result = run_job(args, PIPELINE_COMPARISON_KIND, params, unit="img")
        if result is None:  # only with --submit, which evaluate does not take
            return 0
        print(f"{'model':40s} {'emotion acc':>11s} {'recall':>7s} {'ms/img':>7s}")
        for s in result.scores:
            print(f"{s.name:40s} {s.emotion_accuracy:11.3f} {s.face_recall:7.3f} {s.ms_per_image:7.1f}")
    return 0
