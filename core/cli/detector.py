"""`python -m core detector train|evaluate` and `python -m core resnet train`: the torch models from the shell.

Progress is a tqdm bar per epoch. Ctrl-C stops training after the current batch and still saves the best epoch.
"""

from __future__ import annotations

import argparse
import hashlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

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
    add_activation_flags(t)
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
    r.set_defaults(func=cmd_resnet_train)


def _cancellable(work: Callable[[threading.Event], T]) -> T:
    """Run `work(cancel)` in a thread; Ctrl-C sets `cancel` so the work can stop cleanly and return."""
    cancel = threading.Event()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = work(cancel)
        except BaseException as exc:  # re-raised in the main thread below
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    while thread.is_alive():
        try:
            thread.join(0.2)
        except KeyboardInterrupt:
            print("\nstopping after the current batch; the best epoch so far is kept")
            cancel.set()
    if "error" in box:
        raise box["error"]
    value: T = box["value"]
    return value


def _threads(n: int) -> None:
    if n > 0:
        import torch

        torch.set_num_threads(n)


def _ticker(bar: Any) -> Callable[[int, int], None]:
    """A progress callback (done, total) that moves a tqdm bar."""

    def tick(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    return tick


def _yolo_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.txt")):
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cmd_detector_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from core.cli.activation import promote_and_report
    from core.detector.data import samples_from_store, samples_from_yolo, yolo_class_map
    from core.detector.model import model_params, save_detector
    from core.detector.train import DetectorConfig, EpochStats, train_detector
    from core.registry import Registry
    from core.schema import EMOTIONS, STATUS_TEST, STATUS_TRAIN
    from core.settings import get_settings
    from core.store import Store
    from core.store.repository import Filters
    from core.yolo import read_yolo_dataset

    _threads(args.threads)
    settings = get_settings()
    config = DetectorConfig(
        input_size=args.size,
        epochs=args.epochs,
        batch_size=args.batch,
        lr=args.lr,
        patience=args.patience,
        device=args.device,
        augment=not args.no_augment,
    )
    if args.yolo is not None:
        ds = read_yolo_dataset(args.yolo)
        classes = [e for e in EMOTIONS if e in ds.emotions]
        cmap = yolo_class_map(ds.emotions, classes)
        val_items = ds.splits.get("valid") or ds.splits.get("test") or []
        with tqdm(desc="loading train images", unit="img") as bar:
            train = samples_from_yolo(ds.splits["train"], cmap, args.size, progress=_ticker(bar))
        with tqdm(desc="loading valid images", unit="img") as bar:
            val = samples_from_yolo(val_items, cmap, args.size, progress=_ticker(bar))
        sources, data_hash = [str(args.yolo)], _yolo_hash(args.yolo)
    else:
        store = Store(settings)
        present = [e for e in EMOTIONS if e in store.counts_by("emotion")]
        train = samples_from_store(store, Filters(statuses=[STATUS_TRAIN], labeled_only=True), present, args.size)
        held_out = Filters(statuses=[STATUS_TEST], labeled_only=True)
        val = samples_from_store(store, held_out, present, args.size) if store.count(held_out) else []
        classes, sources, data_hash = present, ["store"], ""
    print(f"{len(train)} training and {len(val)} validation images, classes: {', '.join(classes)}")
    bar = tqdm(total=config.epochs, desc="training", unit="epoch")

    def show(stats: EpochStats, total: int) -> None:
        bar.update(1)
        bar.set_postfix(
            loss=f"{stats.train_loss:.3f}", map50=f"{stats.map50 or 0:.3f}", acc=f"{stats.emotion_accuracy or 0:.3f}"
        )

    result = _cancellable(lambda cancel: train_detector(train, val, classes, config, progress=show, cancel=cancel))
    bar.close()
    metrics: dict[str, Any] = result.metrics.as_dict() if result.metrics is not None else {}
    metrics["history"] = [h.as_dict() for h in result.history]
    metrics["best_epoch"] = result.best_epoch
    metrics["train_seconds"] = result.seconds
    registry = Registry(settings.models_dir)
    card = save_detector(
        registry,
        result.net,
        classes=classes,
        params=model_params(result.net, args.size, result.spec, config.widths),
        metrics=metrics,
        data_hash=data_hash,
        data_sources=sources,
        notes="cancelled: best epoch so far" if result.cancelled else "",
    )
    if result.metrics is not None:
        m = result.metrics
        print(f"mAP@0.5 {m.map50:.3f}  face recall {m.face_recall:.3f}  emotion accuracy {m.emotion_accuracy:.3f}")
    print(f"saved model {card.id}")
    promote_and_report(registry, Store(settings), card.id, args)
    return 0


def cmd_detector_evaluate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from core.detector.compare import compare_pipelines, load_images
    from core.detector.data import samples_from_yolo, yolo_class_map
    from core.detector.model import DetectorModel
    from core.detector.train import evaluate_net
    from core.inference import Recognizer
    from core.landmarks.extractor import LandmarkExtractor
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
        images = load_images(items)
        with LandmarkExtractor(settings) as extractor:
            pipelines = {args.model: Recognizer(model)}
            for other in args.compare:
                loaded = registry.load(other)
                pipelines[other] = Recognizer(loaded, extractor if loaded.needs_landmarks else None)
            with tqdm(total=len(pipelines) * len(images), desc="comparing", unit="img") as bar:
                scores = compare_pipelines(pipelines, images, ds.emotions, progress=_ticker(bar))
        print(f"{'model':40s} {'emotion acc':>11s} {'recall':>7s} {'ms/img':>7s}")
        for s in scores:
            print(f"{s.name:40s} {s.emotion_accuracy:11.3f} {s.face_recall:7.3f} {s.ms_per_image:7.1f}")
    return 0


def cmd_resnet_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from core.cli.activation import promote_and_report
    from core.registry import Registry
    from core.settings import get_settings
    from core.store import Store
    from core.store.repository import Filters
    from core.training.resnet import ResNetConfig, ResNetEpoch, load_crops, save_resnet, train_resnet, weights_status

    _threads(args.threads)
    settings = get_settings()
    config = ResNetConfig(
        image_size=args.size,
        epochs=args.epochs,
        head_epochs=args.head_epochs,
        freeze_backbone=args.freeze_backbone,
        batch_size=args.batch,
        lr=args.lr,
        patience=args.patience,
        use_imagenet=not args.no_imagenet,
        device=args.device,
    )
    print(weights_status(settings) if config.use_imagenet else "training from scratch (--no-imagenet)")
    store = Store(settings)
    with tqdm(desc="cropping faces", unit="face") as bar:
        data = load_crops(
            store,
            Filters(emotions=args.emotions, sources=args.sources),
            size=args.size,
            progress=_ticker(bar),
        )
    print(f"{len(data.images)} face crops, classes: {', '.join(data.classes)}; {len(data.skipped)} unreadable")
    bar = tqdm(total=config.epochs, desc="training", unit="epoch")

    def show(stats: ResNetEpoch, total: int) -> None:
        bar.update(1)
        bar.set_postfix(phase=stats.phase, loss=f"{stats.train_loss:.3f}", f1=f"{stats.val_macro_f1 or 0:.3f}")

    result = _cancellable(lambda cancel: train_resnet(data, settings, config, progress=show, cancel=cancel))
    bar.close()
    registry = Registry(settings.models_dir)
    card = save_resnet(registry, result, data_sources=["store"])
    m = result.metrics
    if m:
        print(f"validation accuracy {m['accuracy']:.3f}  macro-F1 {m['macro_f1']:.3f} (best epoch {result.best_epoch})")
    print(f"saved model {card.id}")
    promote_and_report(registry, store, card.id, args, filters=Filters(emotions=args.emotions, sources=args.sources))
    return 0
