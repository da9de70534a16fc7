"""`python -m core detector train|evaluate` and `python -m core resnet train`: the torch models from the shell.

Progress is a tqdm bar per epoch. Ctrl-C stops training after the current batch and still saves the best epoch.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TypeVar

from core.cli.jobs import add_submit_flag
from core.errors import StudioError

T = TypeVar("T")


def register(sub: Any) -> None:
    from core.cli.activation import add_activation_flags

    det = sub.add_parser("detector", help="single-stage grid detector: train, evaluate").add_subparsers(
        dest="detector_command", metavar="ACTION", required=True
    )
    t = det.add_parser("train", help="train on a YOLO folder (or on YOLO faces imported into the store)")
    src = t.add_mutually_exclusive_group(required=True)
    src.add_argument("--yolo", type=Path, help="YOLO dataset folder (data.yaml + train/ + valid/)")
    src.add_argument("--from-store", action="store_true", help="use labeled faces of the store (train/test status)")
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--size", type=int, default=192, help="input size, a multiple of 32")
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--lr", type=float, default=3e-3)
    t.add_argument("--patience", type=int, default=0, help="stop after N epochs without a better mAP (0: never)")
    t.add_argument("--device", default="auto", help="cpu, cuda or auto")
    t.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    t.add_argument("--no-augment", action="store_true")
    t.add_argument("--backbone", choices=("grid", "efficientnet_lite0"), default="grid",
                   help="efficientnet_lite0: frozen ImageNet features, stride 16 (try --size 256)")  # fmt: skip
    t.add_argument("--expression-head", choices=("grid", "faceapi"), default="grid",
                   help="faceapi: face-api's network names the expression of each detected box")  # fmt: skip
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

    res = sub.add_parser("resnet", help="ResNet-50 image model on face crops").add_subparsers(
        dest="resnet_command", metavar="ACTION", required=True
    )
    r = res.add_parser("train", help="fine-tune ResNet-50 on face crops of the store")
    r.add_argument("--epochs", type=int, default=10)
    r.add_argument("--head-epochs", type=int, default=2, help="frozen-backbone epochs first (with ImageNet weights)")
    r.add_argument("--freeze-backbone", action="store_true", help="train only the head (fast on CPU)")
    r.add_argument("--size", type=int, default=224)
    r.add_argument("--batch", type=int, default=32)
    r.add_argument("--lr", type=float, default=1e-3)
    r.add_argument("--patience", type=int, default=3)
    r.add_argument("--no-imagenet", action="store_true", help="train from scratch even when weights are present")
    r.add_argument("--emotions", nargs="*", default=[])
    r.add_argument("--sources", nargs="*", default=[])
    r.add_argument("--device", default="auto")
    r.add_argument("--threads", type=int, default=0)
    add_activation_flags(r)
    add_submit_flag(r)
    r.set_defaults(func=cmd_resnet_train)


def cmd_detector_train(args: argparse.Namespace) -> int:
    from core.cli.activation import policy_of, report_promotion
    from core.cli.jobs import run_job
    from core.jobs.torch_kinds import DETECTOR_TRAINING, DetectorParams

    params = DetectorParams(
        yolo=str(args.yolo) if args.yolo is not None else None,
        epochs=args.epochs,
        input_size=args.size,
        batch_size=args.batch,
        lr=args.lr,
        patience=args.patience,
        device=args.device,
        threads=args.threads,
        augment=not args.no_augment,
        backbone=args.backbone,
        expression_head=args.expression_head,
        activation=policy_of(args),
    )
    result = run_job(args, DETECTOR_TRAINING, params, unit="epoch", threaded=True)
    if result is None:
        return 0
    print(
        f"{result['n_train']} training and {result['n_val']} validation images, classes: {', '.join(result['classes'])}"
    )
    m = result["metrics"]
    if m is not None:
        print(
            f"mAP@0.5 {m['map50']:.3f}  face recall {m['face_recall']:.3f}  "
            f"emotion accuracy {m['emotion_accuracy']:.3f}"
        )
    print(f"saved model {result['model_id']}")
    report_promotion(result)
    return 0


def cmd_detector_evaluate(args: argparse.Namespace) -> int:
    from core.detector.data import samples_from_yolo, yolo_class_map
    from core.detector.model import DetectorModel
    from core.detector.train import evaluate_net
    from core.registry import Registry
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
        from core.cli.jobs import run_job
        from core.jobs.compare_kinds import PIPELINE_COMPARISON, PipelineComparisonParams

        models = {args.model: args.model} | {other: other for other in args.compare}
        params = PipelineComparisonParams(dataset=str(args.yolo), models=models, split=args.split)
        result = run_job(args, PIPELINE_COMPARISON, params, unit="img")
        if result is None:  # only with --submit, which evaluate does not take
            return 0
        print(f"{'model':40s} {'emotion acc':>11s} {'recall':>7s} {'ms/img':>7s}")
        for s in result["scores"]:
            print(f"{s['name']:40s} {s['emotion_accuracy']:11.3f} {s['face_recall']:7.3f} {s['ms_per_image']:7.1f}")
    return 0


def cmd_resnet_train(args: argparse.Namespace) -> int:
    from core.cli.activation import policy_of, report_promotion
    from core.cli.jobs import run_job
    from core.jobs.torch_kinds import RESNET_TRAINING, ResNetParams
    from core.settings import get_settings
    from core.training.resnet import weights_status

    params = ResNetParams(
        epochs=args.epochs,
        head_epochs=args.head_epochs,
        freeze_backbone=args.freeze_backbone,
        image_size=args.size,
        batch_size=args.batch,
        lr=args.lr,
        patience=args.patience,
        use_imagenet=not args.no_imagenet,
        backbone=getattr(args, "backbone", "resnet50"),
        device=args.device,
        threads=args.threads,
        emotions=args.emotions,
        sources=args.sources,
        activation=policy_of(args),
    )
    if params.backbone == "efficientnet_lite0":
        print("EfficientNet-Lite0 from its ImageNet weights" if params.use_imagenet else "training from scratch")
    else:
        print(weights_status(get_settings()) if params.use_imagenet else "training from scratch (--no-imagenet)")
    result = run_job(args, RESNET_TRAINING, params, unit="epoch", threaded=True)
    if result is None:
        return 0
    print(f"{result['n_crops']} face crops; {result['skipped']} unreadable")
    m = result["metrics"]
    if m:
        print(
            f"validation accuracy {m['accuracy']:.3f}  macro-F1 {m['macro_f1']:.3f} (best epoch {result['best_epoch']})"
        )
    print(f"saved model {result['model_id']}")
    report_promotion(result)
    return 0
