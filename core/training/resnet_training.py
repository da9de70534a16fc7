"""The image model's training loop: configuration, per-epoch statistics and the run itself (head phase on a frozen
backbone, then fine-tuning; early stopping on validation macro-F1; resumable from an epoch checkpoint)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from core.errors import StudioError, TrainingDataError
from core.settings import Settings
from core.training import checkpoint as checkpoint_state
from core.training.best_epoch import BestEpoch, EpochStats, TrainingRun, class_weights
from core.training.checkpoint import EpochCheckpoint
from core.training.crop_data import CROP_PAD, CropData, augment_crop, split_train_val, to_batch
from core.training.device import resolve_device
from core.training.image_networks import BACKBONES, build_network, find_imagenet_weights, weights_status
from core.training.report import classification_metrics
from core.training.resnet_params import ResNetParams

log = logging.getLogger(__name__)


_DEFAULTS = ResNetParams()  # the job's Params hold each default once; the config reads them


@dataclass
class ResNetConfig:
    image_size: int = _DEFAULTS.image_size
    epochs: int = _DEFAULTS.epochs
    head_epochs: int = _DEFAULTS.head_epochs
    freeze_backbone: bool = _DEFAULTS.freeze_backbone
    batch_size: int = _DEFAULTS.batch_size
    lr: float = _DEFAULTS.lr
    backbone_lr: float = 1e-4  # fine-tuning rate of the pretrained backbone
    weight_decay: float = 1e-4
    val_fraction: float = 0.2
    patience: int = _DEFAULTS.patience
    augment: bool = True
    class_weighting: bool = True
    use_imagenet: bool = _DEFAULTS.use_imagenet
    seed: int = 0
    device: str = _DEFAULTS.device
    pad: float = CROP_PAD
    backbone: str = _DEFAULTS.backbone

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise StudioError(f"unknown backbone {self.backbone!r}; choose one of {', '.join(BACKBONES)}")
        if self.image_size < 32:
            raise StudioError("the crop size must be at least 32 px (ResNet-50 halves it five times)")
        if self.epochs < 1 or self.batch_size < 2:
            raise StudioError("epochs must be at least 1 and the batch size at least 2 (BatchNorm needs pairs)")


@dataclass
class ResNetEpoch(EpochStats):
    epoch: int
    phase: str  # "head" (frozen backbone) or "full"
    train_loss: float
    train_accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    val_macro_f1: float | None
    seconds: float


@dataclass
class ResNetResult(TrainingRun[ResNetEpoch]):
    net: nn.Module
    classes: list[str]
    config: ResNetConfig
    pretrained: bool
    weights_note: str


EpochCallback = Callable[[ResNetEpoch, int], None]  # (finished epoch, planned epochs)


@torch.inference_mode()
def predict_proba(net: nn.Module, images: Sequence[np.ndarray], device: str, batch_size: int) -> np.ndarray:
    """Class probabilities of square crops, `batch_size` at a time."""
    net.eval()
    out = []
    for start in range(0, len(images), batch_size):
        out.append(torch.softmax(net(to_batch(images[start : start + batch_size], device)), dim=1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0))


@dataclass
class _Run:
    """What the steps of one training run share."""

    data: CropData
    config: ResNetConfig
    net: nn.Module
    device: str
    rng: np.random.Generator
    train_idx: np.ndarray
    val_idx: np.ndarray
    weights: torch.Tensor | None
    pretrained: bool
    head_epochs: int
    result: ResNetResult
    best: BestEpoch
    started: float
    optim: torch.optim.Optimizer | None = None
    first: int = 1
    stopped: bool = False


def train_resnet_here(
    data: CropData,
    settings: Settings,
    config: ResNetConfig | None = None,
    *,
    progress: EpochCallback | None = None,
    cancel: threading.Event | None = None,
    checkpoint: EpochCheckpoint | None = None,
) -> ResNetResult:
    """The training run in this process (core.training.resnet.train_resnet sends it to the executor)."""
    config = config or ResNetConfig()
    _check_data(data)
    run = _prepare(data, settings, config)
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:  # a requeued job: go on after the last finished epoch, as if never interrupted
        _resume(run, saved)
    for epoch in range(run.first, 0 if run.stopped else config.epochs + 1):
        phase = "head" if epoch <= run.head_epochs else "full"
        if run.optim is None or (phase == "full" and epoch == run.head_epochs + 1):
            run.optim = _optimizer(run.net, phase, run.pretrained, config)
        t0 = time.perf_counter()
        loss, accuracy, seen = _fit_epoch(run, run.optim, phase, cancel)
        if run.result.cancelled and not seen:
            break
        stats = ResNetEpoch(epoch, phase, loss, accuracy, None, None, None, 0.0)
        _validate(run, stats)
        stats.seconds = time.perf_counter() - t0
        run.result.history.append(stats)
        log.info("resnet epoch %d/%d (%s) loss %.3f val f1 %s", epoch, config.epochs, phase, loss, stats.val_macro_f1)
        stop = run.best.patience_spent(config.patience) and phase == "full"
        if checkpoint is not None and not run.result.cancelled:  # a cut-short epoch is not one to resume after
            _save_checkpoint(run, run.optim, checkpoint, epoch, phase, stop)
        if progress is not None:
            progress(stats, config.epochs)
        if run.result.cancelled or stop:
            break
    run.net.load_state_dict(run.best.state)
    run.net.eval()
    run.result.seconds = time.perf_counter() - run.started
    return run.result


def _check_data(data: CropData) -> None:
    if len(data.classes) < 2:
        raise TrainingDataError(
            f"the ResNet needs faces of at least two emotions; the selected data has {data.classes or 'none'}"
        )
    if len(data.images) < 2:
        raise TrainingDataError("too few labeled faces to train the ResNet")


def _starting_point(settings: Settings, config: ResNetConfig) -> tuple[Path | None, bool, str]:
    """(ImageNet weights file, whether the backbone starts pretrained, a note saying which)."""
    if config.backbone == "efficientnet_lite0":
        from core.training.efficientnet import available

        pretrained = config.use_imagenet and available()
        note = (
            "EfficientNet-Lite0 starts from its ImageNet weights (sha256-verified)."
            if pretrained
            else "EfficientNet-Lite0 trained from scratch."
        )
        return None, pretrained, note
    weights_file = find_imagenet_weights(settings) if config.use_imagenet else None
    note = weights_status(settings) if config.use_imagenet else "ImageNet weights not used: trained from scratch."
    return weights_file, weights_file is not None, note


def _prepare(data: CropData, settings: Settings, config: ResNetConfig) -> _Run:
    """Seeds, network, validation split and class weights of a fresh run."""
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    weights_file, pretrained, note = _starting_point(settings, config)
    if config.freeze_backbone and not pretrained:
        raise TrainingDataError(
            "a frozen backbone needs ImageNet weights, and none are present locally; train the whole network "
            "(untick 'freeze backbone') or provide the weights"
        )
    net = build_network(config.backbone, len(data.classes), weights_file, pretrained).to(device)
    train_idx, val_idx, split_note = split_train_val(data.labels, data.groups, config.val_fraction, config.seed)
    weights = class_weights(data.labels[train_idx], len(data.classes), device) if config.class_weighting else None
    head_epochs = (
        config.epochs if config.freeze_backbone else (min(config.head_epochs, config.epochs) if pretrained else 0)
    )
    result = ResNetResult(
        net,
        list(data.classes),
        config,
        pretrained,
        note,
        split_note=split_note,
        data_hash=data.data_hash,
        num_train=len(train_idx),
        num_val=len(val_idx),
    )
    return _Run(
        data, config, net, device, rng, train_idx, val_idx, weights, pretrained, head_epochs, result,
        BestEpoch.start(net), time.perf_counter(),
    )  # fmt: skip


def _resume(run: _Run, saved: dict[str, Any]) -> None:
    """Continue after the checkpoint's last finished epoch: weights, optimiser, random state, history, best epoch."""
    run.optim = _optimizer(run.net, saved["phase"], run.pretrained, run.config)
    resumed = checkpoint_state.restore(saved, run.net, run.optim, run.rng)
    run.best = BestEpoch(saved["best_f1"], resumed.best_state, saved["since_best"])
    run.result.history = [ResNetEpoch(**h) for h in saved["history"]]
    run.result.best_epoch, run.result.metrics = saved["best_epoch"], saved["metrics"]
    run.first, run.stopped = resumed.first_epoch, resumed.stopped
    run.started -= resumed.seconds
    log.info("resnet: resumed from the checkpoint after epoch %d", saved["epoch"])


def _fit_epoch(
    run: _Run, optim: torch.optim.Optimizer, phase: str, cancel: threading.Event | None
) -> tuple[float, float, float]:
    """One pass over the shuffled training set: (mean loss, accuracy, faces seen); stops early on cancel."""
    config, data, net = run.config, run.data, run.net
    net.train()
    if phase == "head":
        net.apply(_freeze_bn)  # frozen backbone: keep its BatchNorm statistics too
    order = run.rng.permutation(run.train_idx)
    total = correct = seen = 0.0
    for start in range(0, len(order), config.batch_size):
        if cancel is not None and cancel.is_set():
            run.result.cancelled = True
            break
        chunk = order[start : start + config.batch_size]
        if len(chunk) < 2 and seen:
            continue  # BatchNorm cannot train on a batch of one
        imgs = [augment_crop(data.images[i], run.rng) if config.augment else data.images[i] for i in chunk]
        target = torch.as_tensor(data.labels[chunk], device=run.device)
        logits = net(to_batch(imgs, run.device))
        loss = F.cross_entropy(logits, target, weight=run.weights, label_smoothing=0.05)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        optim.step()
        total += float(loss.detach()) * len(chunk)
        correct += float((logits.argmax(1) == target).sum())
        seen += len(chunk)
    return total / max(seen, 1), correct / max(seen, 1), seen


def _validate(run: _Run, stats: ResNetEpoch) -> None:
    """Fill the epoch's validation figures and keep the network's weights when they are the best so far."""
    data, result = run.data, run.result
    if not len(run.val_idx):
        if run.best.update(run.net, None):
            result.best_epoch = stats.epoch
        return
    proba = predict_proba(run.net, [data.images[i] for i in run.val_idx], run.device, run.config.batch_size)
    truth = data.labels[run.val_idx]
    stats.val_loss = float(F.nll_loss(torch.log(torch.as_tensor(proba) + 1e-9), torch.as_tensor(truth)))
    m = classification_metrics(
        [data.classes[i] for i in truth], [data.classes[i] for i in proba.argmax(1)], data.classes
    )
    stats.val_accuracy, stats.val_macro_f1 = m["accuracy"], m["macro_f1"]
    if run.best.update(run.net, m["macro_f1"]):
        result.best_epoch, result.metrics = stats.epoch, m


def _save_checkpoint(
    run: _Run, optim: torch.optim.Optimizer, checkpoint: EpochCheckpoint, epoch: int, phase: str, stop: bool
) -> None:
    best, result = run.best, run.result
    checkpoint.save(
        epoch,
        {
            "net": run.net.state_dict(),
            "optim": optim.state_dict(),
            "phase": phase,
            "best_f1": best.score,
            "best_state": None if result.best_epoch == epoch else best.state,  # None: the net's
            "since_best": best.since,
            "best_epoch": result.best_epoch,
            "metrics": result.metrics,
            "rng": run.rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "seconds": time.perf_counter() - run.started,
            "stopped": bool(stop),
        },
        [h.as_dict() for h in result.history],
    )


def _freeze_bn(module: nn.Module) -> None:
    if isinstance(module, nn.BatchNorm2d) and not any(p.requires_grad for p in module.parameters()):
        module.eval()


def _optimizer(net: nn.Module, phase: str, pretrained: bool, config: ResNetConfig) -> torch.optim.Optimizer:
    head = list(net.fc.parameters())  # type: ignore[union-attr]
    head_ids = {id(p) for p in head}
    backbone = [p for p in net.parameters() if id(p) not in head_ids]
    for p in backbone:
        p.requires_grad_(phase == "full")
    groups: list[dict[str, Any]] = [{"params": head, "lr": config.lr}]
    if phase == "full":
        # A pretrained backbone moves slowly so that fine-tuning keeps its features; from scratch: full rate.
        groups.append({"params": backbone, "lr": config.backbone_lr if pretrained else config.lr})
    return torch.optim.AdamW(groups, weight_decay=config.weight_decay)
