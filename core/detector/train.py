"""Training loop of the grid detector: augmentation, AdamW with a cosine schedule, per-epoch validation metrics,
best-epoch checkpoint, early stopping, a progress callback and a cancel Event.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch

from core.auth import Permission, require
from core.detector.boxes import GridSpec, decode_predictions, fit_anchors
from core.detector.data import DetectionSample, augment, class_counts, flipped, make_targets, to_tensor
from core.detector.evaluate import DetectionMetrics, ImagePredictions, evaluate_detections, truth_from_cxcywh
from core.detector.loss import detection_loss
from core.detector.net import DEFAULT_WIDTHS, INPUT_MULTIPLE, GridDetector
from core.detector.params import DetectorParams
from core.errors import StudioError, TrainingDataError
from core.executors.executor import executor_for
from core.executors.fanout import net_to_cpu
from core.settings import Settings, get_settings
from core.training import checkpoint as checkpoint_state
from core.training.checkpoint import EpochCheckpoint
from core.training.device import resolve_device

log = logging.getLogger(__name__)


_DEFAULTS = DetectorParams()  # the job's Params hold each default once; the config reads them


@dataclass
class DetectorConfig:
    input_size: int = _DEFAULTS.input_size
    epochs: int = _DEFAULTS.epochs
    batch_size: int = _DEFAULTS.batch_size
    lr: float = _DEFAULTS.lr
    weight_decay: float = 5e-4
    num_anchors: int = 3
    widths: tuple[int, ...] = DEFAULT_WIDTHS
    backbone: str = _DEFAULTS.backbone
    augment: bool = _DEFAULTS.augment
    class_weighting: bool = True
    patience: int = _DEFAULTS.patience
    seed: int = 0
    device: str = _DEFAULTS.device
    eval_every: int = 1

    def __post_init__(self) -> None:
        if self.input_size % INPUT_MULTIPLE or self.input_size < 2 * INPUT_MULTIPLE:
            raise StudioError(
                f"the input size must be a multiple of {INPUT_MULTIPLE} and at least {2 * INPUT_MULTIPLE} px"
            )
        if self.epochs < 1 or self.batch_size < 1:
            raise StudioError("epochs and batch size must be at least 1")


@dataclass
class EpochStats:
    epoch: int
    train_loss: float
    val_loss: float | None
    map50: float | None
    emotion_accuracy: float | None
    face_recall: float | None
    seconds: float
    lr: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DetectorResult:
    net: GridDetector
    spec: GridSpec
    config: DetectorConfig
    classes: list[str]
    history: list[EpochStats] = field(default_factory=list)
    best_epoch: int = 0
    metrics: DetectionMetrics | None = None
    cancelled: bool = False
    seconds: float = 0.0


EpochFn = Callable[[EpochStats, int], None]  # (stats of the finished epoch, total epochs)


@dataclass
class InputSet:
    """Samples as the trainable part of the network sees them: their images, or (a frozen backbone) the backbone's
    output for each, computed once (`cache_features`) instead of once an epoch."""

    samples: list[DetectionSample]
    features: list[torch.Tensor] | None = None

    def batch(self, idx: Sequence[int], device: str) -> torch.Tensor:
        if self.features is None:
            return to_tensor([self.samples[i].image for i in idx]).to(device)
        return torch.stack([self.features[i] for i in idx]).to(device)

    def run(self, net: GridDetector, x: torch.Tensor) -> torch.Tensor:
        return net(x) if self.features is None else net.from_features(x)


@torch.no_grad()
def cache_features(
    net: GridDetector,
    samples: Sequence[DetectionSample],
    *,
    device: str,
    flip: bool = False,
    batch_size: int = 16,
    cancel: threading.Event | None = None,
) -> InputSet:
    """The frozen backbone's output of each sample (and of its mirror image with `flip`), kept as float16 on the
    CPU (about 220 kB an image at 256 px). A network whose backbone trains gets its images back, uncached. A cancel
    stops after the batch (the set then holds the samples cached so far; training stops at its first batch)."""
    views = list(samples) + ([flipped(s) for s in samples] if flip else [])
    if not net.frozen_features:
        return InputSet(views)
    net.eval()
    features: list[torch.Tensor] = []
    for start in range(0, len(views), batch_size):
        if cancel is not None and cancel.is_set():
            break
        x = to_tensor([v.image for v in views[start : start + batch_size]]).to(device)
        features.extend(net.features(x).to("cpu", torch.float16).clone().unbind(0))
    return InputSet(views[: len(features)], features)


@torch.no_grad()
def predict_samples(
    net: GridDetector,
    spec: GridSpec,
    samples: Sequence[DetectionSample] | InputSet,
    *,
    device: str,
    batch_size: int = 32,
    conf_threshold: float = 0.01,
) -> list[ImagePredictions]:
    """Predictions on samples at a low threshold (mAP needs the whole ranking)."""
    inputs = samples if isinstance(samples, InputSet) else InputSet(list(samples))
    net.eval()
    out = []
    for start in range(0, len(inputs.samples), batch_size):
        idx = range(start, min(start + batch_size, len(inputs.samples)))
        raw = inputs.run(net, inputs.batch(idx, device))
        for dets in decode_predictions(raw, spec, conf_threshold=conf_threshold):
            out.append(
                ImagePredictions(
                    np.array([d.box for d in dets], dtype=np.float64).reshape(-1, 4),
                    np.array([d.score for d in dets], dtype=np.float64),
                    np.array([d.class_index for d in dets], dtype=np.int64),
                )
            )
    return out


def evaluate_net(
    net: GridDetector,
    spec: GridSpec,
    samples: Sequence[DetectionSample] | InputSet,
    classes: Sequence[str],
    *,
    device: str,
) -> DetectionMetrics:
    preds = predict_samples(net, spec, samples, device=device)
    listed = samples.samples if isinstance(samples, InputSet) else samples
    truths = [truth_from_cxcywh(s.boxes, s.classes) for s in listed]
    return evaluate_detections(preds, truths, classes)


@torch.no_grad()
def _val_loss(net: GridDetector, spec: GridSpec, inputs: InputSet, batch_size: int, device: str) -> float:
    net.eval()
    total, n = 0.0, 0
    for start in range(0, len(inputs.samples), batch_size):
        idx = range(start, min(start + batch_size, len(inputs.samples)))
        obj, off, cls = (t.to(device) for t in make_targets([inputs.samples[i] for i in idx], spec))
        loss, _ = detection_loss(inputs.run(net, inputs.batch(idx, device)), obj, off, cls, spec=spec)
        total += float(loss) * len(idx)
        n += len(idx)
    return total / max(n, 1)


def train_detector(
    train: Sequence[DetectionSample],
    val: Sequence[DetectionSample],
    classes: Sequence[str],
    config: DetectorConfig | None = None,
    *,
    progress: EpochFn | None = None,
    cancel: threading.Event | None = None,
    settings: Settings | None = None,
    checkpoint: EpochCheckpoint | None = None,
) -> DetectorResult:
    """Train from scratch. The weights of the epoch with the best validation mAP@0.5 are kept (the last epoch's
    when there is no validation set). Cancelling stops after the current batch and keeps the best epoch so far.
    With EXECUTOR=ray (`settings`, else the process's) it runs as a Ray task on a GPU when the cluster has one.
    With `checkpoint`, each finished epoch is saved there and a matching checkpoint is resumed from.
    """
    require(Permission.TRAIN)
    return executor_for(settings or get_settings()).run_task(
        _train_detector,
        list(train),
        list(val),
        list(classes),
        config,
        progress=progress,
        cancel=cancel,
        on_worker=net_to_cpu,
        checkpoint=checkpoint,
    )


@dataclass
class _Run:
    """The state of one training run, passed between the steps of `_train_detector`."""

    config: DetectorConfig
    net: GridDetector
    spec: GridSpec
    device: str
    rng: np.random.Generator
    optim: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler
    class_weights: torch.Tensor | None
    result: DetectorResult
    best_map: float = -1.0
    best_state: dict[str, torch.Tensor] = field(default_factory=dict)
    since_best: int = 0
    started: float = 0.0


def _train_detector(
    train: Sequence[DetectionSample],
    val: Sequence[DetectionSample],
    classes: Sequence[str],
    config: DetectorConfig | None = None,
    *,
    progress: EpochFn | None = None,
    cancel: threading.Event | None = None,
    checkpoint: EpochCheckpoint | None = None,
) -> DetectorResult:
    run = _start(train, classes, config or DetectorConfig())
    first, stopped = _resume(run, checkpoint.load() if checkpoint is not None else None)
    cfg = run.config
    # A frozen backbone sees each image once (and its mirror image as the augmentation); a trained one every epoch.
    frozen = run.net.frozen_features
    if frozen:
        train_in = cache_features(run.net, train, device=run.device, flip=cfg.augment, cancel=cancel)
    else:
        train_in = InputSet(list(train))
    val_in = cache_features(run.net, val, device=run.device, cancel=cancel)
    for epoch in range(first, 0 if stopped else cfg.epochs + 1):
        t0 = time.perf_counter()
        total, seen = _train_epoch(run, train_in, augment_images=cfg.augment and not frozen, cancel=cancel)
        if run.result.cancelled and seen == 0:
            break
        lr = float(run.optim.param_groups[0]["lr"])
        stats = EpochStats(epoch, total / max(seen, 1), None, None, None, None, 0.0, lr)
        if val and (epoch % cfg.eval_every == 0 or epoch == cfg.epochs):
            _validate(run, val_in, stats)
        elif not val:
            run.best_state, run.result.best_epoch = copy.deepcopy(run.net.state_dict()), epoch
        stats.seconds = time.perf_counter() - t0
        run.result.history.append(stats)
        log.info("epoch %d/%d loss %.3f map50 %s", epoch, cfg.epochs, stats.train_loss, stats.map50)
        stop = bool(cfg.patience and run.since_best >= cfg.patience)
        if checkpoint is not None and not run.result.cancelled:  # a cut-short epoch is not one to resume after
            checkpoint.save(epoch, _checkpoint_state(run, epoch, stop), [h.as_dict() for h in run.result.history])
        if progress is not None:
            progress(stats, cfg.epochs)
        if run.result.cancelled or stop:
            break
    if val and run.result.history and run.result.history[-1].map50 is None:
        _validate(run, val_in, run.result.history[-1])  # stopped between evaluations: the last weights compete
    run.net.load_state_dict(run.best_state)
    run.net.eval()
    run.result.seconds = time.perf_counter() - run.started
    return run.result


def _start(train: Sequence[DetectionSample], classes: Sequence[str], config: DetectorConfig) -> _Run:
    """Check the data; build the network (its grid fitted to the boxes), optimizer, schedule and class weights."""
    if not train:
        raise TrainingDataError("no training images")
    counts = class_counts(train, len(classes))
    if counts.sum() == 0:
        raise TrainingDataError("the training images hold no labeled faces")
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    wh = np.concatenate([s.boxes[:, 2:4] for s in train if len(s.boxes)])
    anchors = fit_anchors(wh, config.num_anchors, seed=config.seed)
    net = GridDetector(len(classes), len(anchors), tuple(config.widths), config.backbone).to(device)
    spec = GridSpec(config.input_size // net.stride, anchors)
    class_weights = None
    if config.class_weighting:
        # Inverse-frequency weights, normalized to mean 1 over the classes present; absent classes get 0.
        present = counts > 0
        w = np.zeros(len(classes))
        w[present] = counts[present].sum() / (present.sum() * counts[present])
        class_weights = torch.tensor(w, dtype=torch.float32, device=device)
    trainable = [p for p in net.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=config.weight_decay)
    views = len(train) * (2 if config.augment and net.frozen_features else 1)
    steps = max(1, int(np.ceil(views / config.batch_size))) * config.epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(optim, max_lr=config.lr, total_steps=steps, pct_start=0.15)
    result = DetectorResult(net=net, spec=spec, config=config, classes=list(classes))
    run = _Run(config, net, spec, device, np.random.default_rng(config.seed), optim, sched, class_weights, result)
    run.best_state, run.started = copy.deepcopy(net.state_dict()), time.perf_counter()
    return run


def _resume(run: _Run, saved: dict[str, Any] | None) -> tuple[int, bool]:
    """A requeued job goes on after its last finished epoch, as if never interrupted: (first epoch, stopped)."""
    if saved is None:
        return 1, False
    resumed = checkpoint_state.restore(saved, run.net, run.optim, run.rng)
    run.sched.load_state_dict(saved["sched"])
    run.best_map, run.best_state, run.since_best = saved["best_map"], resumed.best_state, saved["since_best"]
    run.result.history = [EpochStats(**h) for h in saved["history"]]
    run.result.best_epoch, run.result.metrics = saved["best_epoch"], saved["metrics"]
    run.started -= resumed.seconds
    log.info("detector: resumed from the checkpoint after epoch %d", saved["epoch"])
    return resumed.first_epoch, resumed.stopped


def _train_epoch(
    run: _Run, inputs: InputSet, *, augment_images: bool, cancel: threading.Event | None
) -> tuple[float, int]:
    """One pass over the inputs in a random order: (summed loss, samples seen). A cancel stops after the batch."""
    run.net.train()
    order = run.rng.permutation(len(inputs.samples))
    total, seen = 0.0, 0
    for start in range(0, len(order), run.config.batch_size):
        if cancel is not None and cancel.is_set():
            break
        idx = order[start : start + run.config.batch_size].tolist()
        chunk = [inputs.samples[i] for i in idx]
        if augment_images:
            chunk = [augment(s, run.rng) for s in chunk]
            x = to_tensor([s.image for s in chunk]).to(run.device)
        else:
            x = inputs.batch(idx, run.device)
        obj, off, cls = (t.to(run.device) for t in make_targets(chunk, run.spec))
        loss, _ = detection_loss(inputs.run(run.net, x), obj, off, cls, spec=run.spec, class_weights=run.class_weights)
        run.optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(run.net.parameters(), 10.0)
        run.optim.step()
        run.sched.step()
        total += float(loss.detach()) * len(chunk)
        seen += len(chunk)
    # Also when the feature cache was cancelled and left nothing to train on.
    run.result.cancelled = cancel is not None and cancel.is_set()
    return total, seen


def _validate(run: _Run, val: InputSet, stats: EpochStats) -> None:
    """Score the current weights into `stats`; keep them when their mAP@0.5 is the best so far."""
    stats.val_loss = _val_loss(run.net, run.spec, val, run.config.batch_size, run.device)
    m = evaluate_net(run.net, run.spec, val, run.result.classes, device=run.device)
    stats.map50, stats.emotion_accuracy, stats.face_recall = m.map50, m.emotion_accuracy, m.face_recall
    if m.map50 > run.best_map:
        run.best_map, run.best_state, run.since_best = m.map50, copy.deepcopy(run.net.state_dict()), 0
        run.result.best_epoch, run.result.metrics = stats.epoch, m
    else:
        run.since_best += 1


def _checkpoint_state(run: _Run, epoch: int, stop: bool) -> dict[str, Any]:
    return {
        "net": run.net.state_dict(),
        "optim": run.optim.state_dict(),
        "sched": run.sched.state_dict(),
        "best_map": run.best_map,
        "best_state": None if run.result.best_epoch == epoch else run.best_state,  # None: the net's
        "since_best": run.since_best,
        "best_epoch": run.result.best_epoch,
        "metrics": run.result.metrics,
        "rng": run.rng.bit_generator.state,
        "torch_rng": torch.get_rng_state(),
        "seconds": time.perf_counter() - run.started,
        "stopped": stop,
    }
