"""Fine-tuning face-api's expression network on the studio's faces (registry kind "faceapi_finetuned").

It starts from the shipped network itself (its head rows kept for the classes it knows), so epoch 0 is the network
alone: validation scores it first, and the kept weights are the best epoch's, epoch 0 included. A run can therefore
not end worse on its validation persons than the network it started from. Three depths: `head` (the last linear
layer), `last` (the last dense block and the head) or `all` (every layer, the backbone at a low learning rate).
The crops are face-api's own framing (`core.faceapi.network.face_crop` around the MediaPipe landmark box), the same
the zero-shot kind and the hybrid use. Augmentation suits faces: small shifts, scales and rotations, brightness and
contrast, grayscale (posed lab photos are gray); no flip by default, since the network is not flip-invariant and
a flip is measured before it is used (`bench/finetune.py --flip`).
"""

from __future__ import annotations

import copy
import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from core.auth import Permission, require
from core.errors import ImageNotReadable, StudioError, TrainingDataError
from core.faceapi.network import CROP_SCALE, INPUT_SIZE, face_crop
from core.faceapi_torch.net import BLOCKS, FaceExpressionNet, shipped_network, with_classes
from core.faceapi_torch.params import FineTuneParams
from core.imaging import decode_rgb
from core.progress import ProgressFn
from core.schema import EMOTIONS, TRAINABLE_STATUSES
from core.settings import Settings
from core.store.repository import Filters, Store
from core.training.best_epoch import BestEpoch, EpochStats, TrainingRun, class_weights
from core.training.crop_data import split_train_val
from core.training.device import resolve_device
from core.training.report import classification_metrics

Mode = Literal["head", "last", "all"]
MODES: tuple[Mode, ...] = ("head", "last", "all")


@dataclass
class FaceCrops:
    crops: np.ndarray  # (n, 112, 112, 3) uint8 RGB at face-api's framing
    labels: np.ndarray  # (n,) indices into `classes`
    classes: list[str]
    groups: np.ndarray | None  # person ids, or None when the store does not know every image's person
    data_hash: str = ""
    skipped: list[tuple[int, str]] = field(default_factory=list)


def load_face_crops(store: Store, filters: Filters | None = None, *, progress: ProgressFn | None = None) -> FaceCrops:
    """Labeled faces of the store (train and test status by default) as face-api crops; an unreadable file is
    listed in `skipped` and the rest goes on."""
    f = filters or Filters()
    wanted = Filters(
        emotions=f.emotions,
        sources=f.sources,
        statuses=list(f.statuses) or list(TRAINABLE_STATUSES),
        extraction_states=f.extraction_states,
        labeled_only=True,
    )
    pairs = store.faces(wanted)
    present = {str(r.emotion) for r, _ in pairs}
    classes = [e for e in EMOTIONS if e in present]
    crops, labels, persons, skipped = [], [], [], []
    digest = hashlib.sha256(f"faceapi-crops:{CROP_SCALE}".encode())
    for done, (record, face) in enumerate(pairs, start=1):
        try:
            rgb = decode_rgb(store.read_bytes(record))
        except (OSError, ImageNotReadable) as exc:
            skipped.append((record.id, str(exc)))
        else:
            crops.append(face_crop(rgb, face.bbox))
            labels.append(classes.index(str(record.emotion)))
            persons.append(record.person)
            digest.update(f"{record.sha256}:{record.emotion}\n".encode())
        if progress is not None:
            progress(done, len(pairs))
    array = np.stack(crops) if crops else np.zeros((0, INPUT_SIZE, INPUT_SIZE, 3), np.uint8)
    groups = np.asarray(persons, dtype=str) if persons and all(persons) else None
    return FaceCrops(array, np.asarray(labels, np.int64), classes, groups, digest.hexdigest()[:16], skipped)


def augment_face(img: np.ndarray, rng: np.random.Generator, *, flip: bool = False, gray: float = 0.2) -> np.ndarray:
    """One face crop moved a little (shift ±5 %, scale 0.92-1.08, rotation ±8°), lit differently (brightness,
    contrast) and sometimes grayscale; mirrored only when `flip`."""
    size = img.shape[0]
    if flip and rng.random() < 0.5:
        img = img[:, ::-1]
    m = cv2.getRotationMatrix2D((size / 2, size / 2), float(rng.uniform(-8, 8)), float(rng.uniform(0.92, 1.08)))
    m[:, 2] += rng.uniform(-0.05, 0.05, size=2) * size
    img = cv2.warpAffine(np.ascontiguousarray(img), m, (size, size), borderMode=cv2.BORDER_REPLICATE)
    out = img.astype(np.float32)
    if rng.random() < gray:
        out = np.repeat(out.mean(axis=2, keepdims=True), 3, axis=2)
    mean = out.mean()
    out = (out - mean) * rng.uniform(0.8, 1.2) + mean + rng.uniform(-20, 20)
    return np.clip(out, 0, 255).astype(np.uint8)


_DEFAULTS = FineTuneParams()  # the job's Params hold each default once; the config reads them


@dataclass
class FineTuneConfig:
    mode: Mode = _DEFAULTS.mode
    epochs: int = _DEFAULTS.epochs
    batch_size: int = _DEFAULTS.batch_size
    lr: float = _DEFAULTS.lr
    backbone_lr: float = _DEFAULTS.backbone_lr
    weight_decay: float = 1e-4
    val_fraction: float = 0.2
    patience: int = _DEFAULTS.patience
    augment: bool = True
    flip: bool = _DEFAULTS.flip
    gray: float = 0.2
    class_weighting: bool = True
    # Weight-space ensembling (WiSE-FT): the kept weights are (1 - wise) * the network's + wise * the fine-tuned
    # ones; below 1 it keeps more of what the network knows about faces unlike the training data.
    wise: float = _DEFAULTS.wise
    seed: int = 0
    device: str = _DEFAULTS.device

    def __post_init__(self) -> None:
        if not 0.0 <= self.wise <= 1.0:
            raise StudioError("wise (the share of the fine-tuned weights) must lie between 0 and 1")
        if self.mode not in MODES:
            raise StudioError(f"unknown fine-tuning mode {self.mode!r}; choose one of {', '.join(MODES)}")
        if self.epochs < 1 or self.batch_size < 1:
            raise StudioError("epochs and the batch size must be at least 1")


@dataclass
class FineTuneEpoch(EpochStats):
    epoch: int  # 0: the network before any training
    train_loss: float | None
    val_accuracy: float | None
    val_macro_f1: float | None
    seconds: float


@dataclass
class FineTuneResult(TrainingRun[FineTuneEpoch]):
    net: FaceExpressionNet
    classes: list[str]
    config: FineTuneConfig


EpochCallback = Callable[[FineTuneEpoch, int], None]


def trainable_parameters(net: FaceExpressionNet, config: FineTuneConfig) -> list[dict[str, Any]]:
    """Optimizer groups for the mode; every other parameter is frozen."""
    blocks = {"head": (), "last": BLOCKS[-1:], "all": BLOCKS}[config.mode]
    for p in net.parameters():
        p.requires_grad_(False)
    groups: list[dict[str, Any]] = [{"params": list(net.fc.parameters()), "lr": config.lr}]
    body = [p for name in blocks for p in getattr(net, name).parameters()]
    if body:
        groups.append({"params": body, "lr": config.backbone_lr})
    for group in groups:
        for p in group["params"]:
            p.requires_grad_(True)
    return groups


@torch.inference_mode()
def predict_proba(net: FaceExpressionNet, crops: np.ndarray, device: str, batch_size: int = 64) -> np.ndarray:
    net.eval()
    out = [
        torch.softmax(net(torch.from_numpy(crops[i : i + batch_size]).to(device).float())[0], dim=1).cpu().numpy()
        for i in range(0, len(crops), batch_size)
    ]
    return np.concatenate(out) if out else np.zeros((0, net.fc.out_features), np.float32)


def _score(net: FaceExpressionNet, data: FaceCrops, idx: np.ndarray, device: str) -> dict[str, Any]:
    proba = predict_proba(net, data.crops[idx], device)
    truth = [data.classes[i] for i in data.labels[idx]]
    return classification_metrics(truth, [data.classes[i] for i in proba.argmax(1)], data.classes)


def train_finetune(
    data: FaceCrops,
    settings: Settings,
    config: FineTuneConfig | None = None,
    *,
    progress: EpochCallback | None = None,
    cancel: threading.Event | None = None,
) -> FineTuneResult:
    """Fine-tune the shipped network on `data`; the best validation epoch's weights are kept (epoch 0, the network
    alone, included)."""
    require(Permission.TRAIN)
    config = config or FineTuneConfig()
    if len(data.classes) < 2 or len(data.labels) < 4:
        raise TrainingDataError(
            f"fine-tuning needs at least four labeled faces of two emotions; the data has {len(data.labels)} faces "
            f"of {data.classes or 'no emotion'}"
        )
    run = _prepare(data, settings, config)
    if len(run.val_idx):
        _score_start(run, progress)
    for epoch in range(1, config.epochs + 1):
        t0 = time.perf_counter()
        loss, seen = _fit_epoch(run, cancel)
        if run.result.cancelled and not seen:
            break
        stats = FineTuneEpoch(epoch, loss, None, None, 0.0)
        _validate(run, stats)
        stats.seconds = time.perf_counter() - t0
        run.result.history.append(stats)
        if progress is not None:
            progress(stats, config.epochs)
        if run.result.cancelled or run.best.patience_spent(config.patience):
            break
    run.net.load_state_dict(interpolate(run.start_state, run.best.state, config.wise))
    run.net.eval()
    if config.wise < 1.0 and len(run.val_idx):  # the card's figures are those of the mixed weights that are saved
        run.result.metrics = _score(run.net, data, run.val_idx, run.device)
    run.result.seconds = time.perf_counter() - run.started
    return run.result


@dataclass
class _Run:
    """What the steps of one fine-tuning run share."""

    data: FaceCrops
    config: FineTuneConfig
    net: FaceExpressionNet
    device: str
    rng: np.random.Generator
    train_idx: np.ndarray
    val_idx: np.ndarray
    weights: torch.Tensor | None
    optim: torch.optim.Optimizer
    result: FineTuneResult
    best: BestEpoch
    start_state: dict[str, torch.Tensor]  # the shipped network's weights, for WiSE-FT
    started: float


def _prepare(data: FaceCrops, settings: Settings, config: FineTuneConfig) -> _Run:
    """Seeds, the shipped network with the data's classes, the validation split, class weights and optimizer."""
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    net = with_classes(shipped_network(settings), data.classes).to(device)
    train_idx, val_idx, split_note = split_train_val(data.labels, data.groups, config.val_fraction, config.seed)
    result = FineTuneResult(net, list(data.classes), config, split_note=split_note, data_hash=data.data_hash,
                            num_train=len(train_idx), num_val=len(val_idx))  # fmt: skip
    weights = class_weights(data.labels[train_idx], len(data.classes), device) if config.class_weighting else None
    optim = torch.optim.AdamW(trainable_parameters(net, config), weight_decay=config.weight_decay)
    started = time.perf_counter()
    best = BestEpoch.start(net)
    start_state = copy.deepcopy(best.state)
    return _Run(data, config, net, device, rng, train_idx, val_idx, weights, optim, result, best, start_state, started)


def _score_start(run: _Run, progress: EpochCallback | None) -> None:
    """Epoch 0: the network before any training, scored on the validation persons; the score to beat."""
    m = _score(run.net, run.data, run.val_idx, run.device)
    run.result.history.append(FineTuneEpoch(0, None, m["accuracy"], m["macro_f1"], time.perf_counter() - run.started))
    run.best.score, run.result.metrics = m["macro_f1"], m
    if progress is not None:
        progress(run.result.history[-1], run.config.epochs)


def _fit_epoch(run: _Run, cancel: threading.Event | None) -> tuple[float, float]:
    """One pass over the shuffled training faces: (mean loss, faces seen); stops early on cancel."""
    config, data, device = run.config, run.data, run.device
    run.net.train()
    order = run.rng.permutation(run.train_idx)
    total = seen = 0.0
    for start in range(0, len(order), config.batch_size):
        if cancel is not None and cancel.is_set():
            run.result.cancelled = True
            break
        chunk = order[start : start + config.batch_size]
        imgs = [augment_face(data.crops[i], run.rng, flip=config.flip, gray=config.gray) for i in chunk] if (
            config.augment
        ) else [data.crops[i] for i in chunk]  # fmt: skip
        batch = torch.from_numpy(np.stack(imgs)).to(device).float()
        target = torch.as_tensor(data.labels[chunk], device=device)
        loss = F.cross_entropy(run.net(batch)[0], target, weight=run.weights)
        run.optim.zero_grad(set_to_none=True)
        loss.backward()
        run.optim.step()
        total += float(loss.detach()) * len(chunk)
        seen += len(chunk)
    return total / max(seen, 1), seen


def _validate(run: _Run, stats: FineTuneEpoch) -> None:
    """The epoch's validation figures; the network's weights are kept when they are the best so far."""
    scored = _score(run.net, run.data, run.val_idx, run.device) if len(run.val_idx) else None
    if scored is not None:
        stats.val_accuracy, stats.val_macro_f1 = scored["accuracy"], scored["macro_f1"]
    if run.best.update(run.net, stats.val_macro_f1):
        run.result.best_epoch = stats.epoch
        run.result.metrics = scored if scored is not None else run.result.metrics


def interpolate(start: dict[str, torch.Tensor], tuned: dict[str, torch.Tensor], wise: float) -> dict[str, torch.Tensor]:
    """(1 - wise) * start + wise * tuned, tensor by tensor (the two share one architecture and head)."""
    if wise >= 1.0:
        return tuned
    return {k: (1.0 - wise) * start[k] + wise * tuned[k] for k in tuned}


def export_onnx(net: FaceExpressionNet, path: str) -> None:
    """The network as ONNX (input `crops` (n, 112, 112, 3) RGB 0..255; outputs logits, embedding), the same
    interface as the shipped file: onnxruntime runs it in the lean install, and faster than torch on CPU."""
    net = copy.deepcopy(net).cpu().eval()
    torch.onnx.export(
        net,
        (torch.zeros(1, INPUT_SIZE, INPUT_SIZE, 3),),
        path,
        dynamo=False,
        input_names=["crops"],
        output_names=["logits", "embedding"],
        dynamic_axes={"crops": {0: "n"}, "logits": {0: "n"}, "embedding": {0: "n"}},
        opset_version=17,
    )


def class_counts(data: FaceCrops) -> dict[str, int]:
    return {c: int((data.labels == i).sum()) for i, c in enumerate(data.classes)}


def subset(data: FaceCrops, idx: Sequence[int] | np.ndarray) -> FaceCrops:
    idx = np.asarray(idx)
    groups = data.groups[idx] if data.groups is not None else None
    return FaceCrops(data.crops[idx], data.labels[idx], data.classes, groups, data.data_hash)
