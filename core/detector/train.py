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
from core.detector.data import DetectionSample, augment, class_counts, make_batch, to_tensor
from core.detector.evaluate import DetectionMetrics, ImagePredictions, evaluate_detections, truth_from_cxcywh
from core.detector.loss import detection_loss
from core.detector.net import DEFAULT_WIDTHS, STRIDE, GridDetector
from core.errors import StudioError, TrainingDataError
from core.executors.executor import executor_for
from core.executors.fanout import net_to_cpu
from core.settings import Settings, get_settings
from core.training import checkpoint as checkpoint_state
from core.training.checkpoint import EpochCheckpoint
from core.training.device import resolve_device

log = logging.getLogger(__name__)


@dataclass
class DetectorConfig:
    input_size: int = 192
    epochs: int = 30
    batch_size: int = 16
    lr: float = 3e-3
    weight_decay: float = 5e-4
    num_anchors: int = 3
    widths: tuple[int, ...] = DEFAULT_WIDTHS
    backbone: str = "grid"  # or "efficientnet_lite0": ImageNet features, frozen (core.detector.net)
    augment: bool = True
    class_weighting: bool = True
    patience: int = 0  # epochs without a better validation mAP before stopping; 0 never stops early
    seed: int = 0
    device: str = "cpu"
    eval_every: int = 1

    def __post_init__(self) -> None:
        if self.input_size % STRIDE or self.input_size < 2 * STRIDE:
            raise StudioError(f"the input size must be a multiple of {STRIDE} and at least {2 * STRIDE} px")
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


@torch.inference_mode()
def predict_samples(
    net: GridDetector,
    spec: GridSpec,
    samples: Sequence[DetectionSample],
    *,
    device: str,
    batch_size: int = 32,
    conf_threshold: float = 0.01,
) -> list[ImagePredictions]:
    """Predictions on samples at a low threshold (mAP needs the whole ranking)."""
    net.eval()
    out = []
    for start in range(0, len(samples), batch_size):
        chunk = samples[start : start + batch_size]
        raw = net(to_tensor([s.image for s in chunk]).to(device))
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
    net: GridDetector, spec: GridSpec, samples: Sequence[DetectionSample], classes: Sequence[str], *, device: str
) -> DetectionMetrics:
    preds = predict_samples(net, spec, samples, device=device)
    truths = [truth_from_cxcywh(s.boxes, s.classes) for s in samples]
    return evaluate_detections(preds, truths, classes)


@torch.inference_mode()
def _val_loss(
    net: GridDetector, spec: GridSpec, samples: Sequence[DetectionSample], batch_size: int, device: str
) -> float:
    net.eval()
    total, n = 0.0, 0
    for start in range(0, len(samples), batch_size):
        chunk = samples[start : start + batch_size]
        images, obj, off, cls = (t.to(device) for t in make_batch(chunk, spec))
        loss, _ = detection_loss(net(images), obj, off, cls, spec=spec)
        total += float(loss) * len(chunk)
        n += len(chunk)
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
    config = config or DetectorConfig()
    if not train:
        raise TrainingDataError("no training images")
    counts = class_counts(train, len(classes))
    if counts.sum() == 0:
        raise TrainingDataError("the training images hold no labeled faces")
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    wh = np.concatenate([s.boxes[:, 2:4] for s in train if len(s.boxes)])
    spec = GridSpec(config.input_size // STRIDE, fit_anchors(wh, config.num_anchors, seed=config.seed))
    net = GridDetector(len(classes), spec.num_anchors, tuple(config.widths), config.backbone).to(device)
    class_weights = None
    if config.class_weighting:
        # Inverse-frequency weights, normalized to mean 1 over the classes present; absent classes get 0.
        present = counts > 0
        w = np.zeros(len(classes))
        w[present] = counts[present].sum() / (present.sum() * counts[present])
        class_weights = torch.tensor(w, dtype=torch.float32, device=device)
    optim = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = max(1, int(np.ceil(len(train) / config.batch_size)))
    sched = torch.optim.lr_scheduler.OneCycleLR(
        optim, max_lr=config.lr, total_steps=steps_per_epoch * config.epochs, pct_start=0.15
    )
    result = DetectorResult(net=net, spec=spec, config=config, classes=list(classes))
    best_map, best_state, since_best = -1.0, copy.deepcopy(net.state_dict()), 0
    started = time.perf_counter()
    first, stopped = 1, False
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:  # a requeued job: go on after the last finished epoch, as if never interrupted
        resumed = checkpoint_state.restore(saved, net, optim, rng)
        sched.load_state_dict(saved["sched"])
        best_map, best_state, since_best = saved["best_map"], resumed.best_state, saved["since_best"]
        result.history = [EpochStats(**h) for h in saved["history"]]
        result.best_epoch, result.metrics = saved["best_epoch"], saved["metrics"]
        first, stopped = resumed.first_epoch, resumed.stopped
        started -= resumed.seconds
        log.info("detector: resumed from the checkpoint after epoch %d", saved["epoch"])
    for epoch in range(first, 0 if stopped else config.epochs + 1):
        t0 = time.perf_counter()
        net.train()
        order = rng.permutation(len(train))
        total, seen = 0.0, 0
        for start in range(0, len(order), config.batch_size):
            if cancel is not None and cancel.is_set():
                result.cancelled = True
                break
            chunk = [train[i] for i in order[start : start + config.batch_size]]
            if config.augment:
                chunk = [augment(s, rng) for s in chunk]
            images, obj, off, cls = (t.to(device) for t in make_batch(chunk, spec))
            loss, _ = detection_loss(net(images), obj, off, cls, spec=spec, class_weights=class_weights)
            optim.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
            optim.step()
            sched.step()
            total += float(loss.detach()) * len(chunk)
            seen += len(chunk)
        if result.cancelled and seen == 0:
            break
        stats = EpochStats(epoch, total / max(seen, 1), None, None, None, None, 0.0, float(optim.param_groups[0]["lr"]))
        if val and (epoch % config.eval_every == 0 or epoch == config.epochs):
            stats.val_loss = _val_loss(net, spec, val, config.batch_size, device)
            m = evaluate_net(net, spec, val, classes, device=device)
            stats.map50, stats.emotion_accuracy, stats.face_recall = m.map50, m.emotion_accuracy, m.face_recall
            if m.map50 > best_map:
                best_map, best_state, since_best = m.map50, copy.deepcopy(net.state_dict()), 0
                result.best_epoch, result.metrics = epoch, m
            else:
                since_best += 1
        elif not val:
            best_state, result.best_epoch = copy.deepcopy(net.state_dict()), epoch
        stats.seconds = time.perf_counter() - t0
        result.history.append(stats)
        log.info("epoch %d/%d loss %.3f map50 %s", epoch, config.epochs, stats.train_loss, stats.map50)
        stop = bool(config.patience and since_best >= config.patience)
        if checkpoint is not None and not result.cancelled:  # a cut-short epoch is not one to resume after
            checkpoint.save(
                epoch,
                {
                    "net": net.state_dict(),
                    "optim": optim.state_dict(),
                    "sched": sched.state_dict(),
                    "best_map": best_map,
                    "best_state": None if result.best_epoch == epoch else best_state,  # None: the net's
                    "since_best": since_best,
                    "best_epoch": result.best_epoch,
                    "metrics": result.metrics,
                    "rng": rng.bit_generator.state,
                    "torch_rng": torch.get_rng_state(),
                    "seconds": time.perf_counter() - started,
                    "stopped": stop,
                },
                [h.as_dict() for h in result.history],
            )
        if progress is not None:
            progress(stats, config.epochs)
        if result.cancelled or stop:
            break
    if val and result.history and result.history[-1].map50 is None:
        # Stopped early between evaluations: score the last weights so they can compete with the best so far.
        last = result.history[-1]
        m = evaluate_net(net, spec, val, classes, device=device)
        last.map50, last.emotion_accuracy, last.face_recall = m.map50, m.emotion_accuracy, m.face_recall
        if m.map50 > best_map:
            best_state, result.best_epoch, result.metrics = copy.deepcopy(net.state_dict()), last.epoch, m
    net.load_state_dict(best_state)
    net.eval()
    result.seconds = time.perf_counter() - started
    return result
