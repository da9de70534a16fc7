"""Compare whole pipelines on the same held-out YOLO images: the detector, MediaPipe plus the landmark classifier,
MediaPipe plus the ResNet on crops. Every pipeline is a `Recognizer`, so each is scored on exactly what Live, Batch
test and the API would return: emotion accuracy on matched faces, face recall and precision, mAP@0.5, ms per image.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.detector.evaluate import ImagePredictions, ImageTruth, evaluate_detections, match_faces
from core.detector.scores import PipelineScore
from core.errors import ImageNotReadable, StudioError
from core.imaging import decode_rgb
from core.inference import FacePrediction, Recognizer
from core.progress import ProgressFn
from core.records import FaceData
from core.schema import EMOTIONS
from core.settings import Settings
from core.yolo import YoloImage

if TYPE_CHECKING:
    from core.models.registry import Registry

# A MediaPipe landmark box hugs brows to chin while annotators draw looser boxes: a face counts as found when the
# boxes overlap this much (the detector is scored with the same threshold in the comparison).
COMPARE_IOU = 0.4


def _truth(item: YoloImage, dataset_emotions: Sequence[str]) -> ImageTruth:
    boxes = np.array([b.xyxy() for b in item.boxes], dtype=np.float64).reshape(-1, 4)
    classes = np.array([EMOTIONS.index(dataset_emotions[b.class_id]) for b in item.boxes], dtype=np.int64)
    return ImageTruth(boxes, classes)


def _as_predictions(faces: Sequence[FacePrediction]) -> ImagePredictions:
    return ImagePredictions(
        np.array([f.box for f in faces], dtype=np.float64).reshape(-1, 4),
        np.array([f.confidence for f in faces], dtype=np.float64),
        np.array([EMOTIONS.index(f.emotion) for f in faces], dtype=np.int64),
    )


def load_images(items: Sequence[YoloImage]) -> list[tuple[YoloImage, np.ndarray]]:
    """Decode the images once (unreadable ones are left out, never fatal). All in memory: for small sets (the
    benchmark's MediaPipe labelling); `compare_pipelines` decodes one image at a time."""
    return [(item, rgb) for item in items if (rgb := _decode(item)) is not None]


def _decode(item: YoloImage) -> np.ndarray | None:
    try:
        return decode_rgb(item.image_path.read_bytes())
    except (OSError, ImageNotReadable):
        return None


def compare_pipelines(
    pipelines: Mapping[str, Recognizer],
    items: Sequence[YoloImage],
    dataset_emotions: Sequence[str],
    *,
    iou_threshold: float = COMPARE_IOU,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> list[PipelineScore]:
    """Score each pipeline on the same images, decoded one at a time (memory stays flat for thousands) and given
    to every pipeline in turn; unreadable images are left out. Timing covers everything `Recognizer.predict` does."""
    names = list(pipelines)
    preds: dict[str, list[ImagePredictions]] = {name: [] for name in names}
    elapsed = dict.fromkeys(names, 0.0)
    truths: list[ImageTruth] = []
    total = len(items)
    for done, item in enumerate(items, start=1):
        if cancel is not None and cancel.is_set():
            break
        rgb = _decode(item)
        if rgb is not None:
            truths.append(_truth(item, dataset_emotions))
            for name in names:
                t0 = time.perf_counter()
                faces = pipelines[name].predict(rgb)
                elapsed[name] += time.perf_counter() - t0
                preds[name].append(_as_predictions(faces))
        if progress is not None:
            progress(done, total, f"{len(truths)} images scored")
    scores = []
    n = len(truths)
    common = _common_faces(preds, truths, iou_threshold)
    for name in names:
        m = evaluate_detections(preds[name], truths, EMOTIONS, iou_threshold=iou_threshold, score_threshold=0.0)
        scores.append(
            PipelineScore(
                name=name,
                model_id=pipelines[name].model_id,
                emotion_accuracy=m.emotion_accuracy,
                face_recall=m.face_recall,
                face_precision=m.face_precision,
                map50=m.map50,
                matched=m.matched,
                num_faces=m.num_faces,
                images=n,
                ms_per_image=1000 * elapsed[name] / max(n, 1),
                common_accuracy=float(np.mean([common[k][name] for k in common])) if common else 0.0,
                common_faces=len(common),
            )
        )
    return scores


def _common_faces(
    preds: Mapping[str, Sequence[ImagePredictions]], truths: Sequence[ImageTruth], iou_threshold: float
) -> dict[tuple[int, int], dict[str, bool]]:
    """(image, true face) -> pipeline -> emotion right, for the faces that every pipeline matched."""
    found: dict[tuple[int, int], dict[str, bool]] = {}
    for name, per_image in preds.items():
        for i, (pred, truth) in enumerate(zip(per_image, truths, strict=True)):
            for p, t in match_faces(pred, truth, iou_threshold):
                found.setdefault((i, t), {})[name] = bool(pred.classes[p] == truth.classes[t])
    return {k: v for k, v in found.items() if len(v) == len(preds)}


def compare_on_yolo(
    registry: Registry,
    settings: Settings,
    dataset: Path,
    model_ids: Mapping[str, str],
    *,
    split: str | None = None,
    limit: int | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> list[PipelineScore]:
    """Load the models (name -> model id) as pipelines and score them on a YOLO dataset's split (default: valid,
    else test, else train), at most `limit` images. The Train page's comparison and `detector evaluate --compare`."""
    from core.landmarks.extractor import LandmarkExtractor
    from core.yolo import read_yolo_dataset

    ds = read_yolo_dataset(dataset)
    if split is not None and split not in ds.splits:
        raise StudioError(f"{dataset} has no split {split!r}; it has {', '.join(ds.splits)}")
    items = ds.splits[split] if split else (ds.splits.get("valid") or ds.splits.get("test") or ds.splits.get("train"))
    items = (items or [])[:limit]
    if not items:
        raise StudioError(f"{dataset} has no images to compare on")
    models = {name: registry.load(model_id) for name, model_id in model_ids.items()}
    with LandmarkExtractor(settings) as extractor:
        pipelines = {
            name: Recognizer(model, extractor if model.needs_landmarks else None) for name, model in models.items()
        }
        return compare_pipelines(pipelines, items, ds.emotions, progress=progress, cancel=cancel)


def label_faces(
    detect: Callable[[np.ndarray], Sequence[FaceData]],
    images: Sequence[tuple[YoloImage, np.ndarray]],
    dataset_emotions: Sequence[str],
    *,
    iou_threshold: float = COMPARE_IOU,
) -> list[tuple[int, FaceData, str]]:
    """MediaPipe faces matched to the YOLO boxes of their image: (image index, face, emotion of the box).

    This is how the MediaPipe-based pipelines get training data from a YOLO dataset: each annotated box lends its
    label to the landmark face that overlaps it best.
    """
    from core.detector.boxes import iou_numpy

    out = []
    for index, (item, rgb) in enumerate(images):
        faces = list(detect(rgb))
        if not faces or not item.boxes:
            continue
        truth = np.array([b.xyxy() for b in item.boxes], dtype=np.float64)
        ious = iou_numpy(np.array([f.bbox for f in faces], dtype=np.float64), truth)
        used: set[int] = set()
        for fi in np.argsort(-ious.max(axis=1)):
            t = int(np.argmax(ious[fi]))
            if ious[fi, t] >= iou_threshold and t not in used:
                used.add(t)
                out.append((index, faces[fi], dataset_emotions[item.boxes[t].class_id]))
    return out
