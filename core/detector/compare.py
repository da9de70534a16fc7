"""Compare whole pipelines on the same held-out YOLO images: the detector, MediaPipe plus the landmark classifier,
MediaPipe plus the ResNet on crops. Every pipeline is a `Recognizer`, so each is scored on exactly what Live, Batch
test and the API would return: emotion accuracy on matched faces, face recall and precision, mAP@0.5, ms per image.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from core.detector.evaluate import ImagePredictions, ImageTruth, evaluate_detections
from core.errors import ImageNotReadable
from core.imaging import decode_rgb
from core.inference import FacePrediction, Recognizer
from core.progress import ProgressFn
from core.records import FaceData
from core.schema import EMOTIONS
from core.yolo import YoloImage

# A MediaPipe landmark box hugs brows to chin while annotators draw looser boxes: a face counts as found when the
# boxes overlap this much (the detector is scored with the same threshold in the comparison).
COMPARE_IOU = 0.4


@dataclass
class PipelineScore:
    name: str
    model_id: str
    emotion_accuracy: float
    face_recall: float
    face_precision: float
    map50: float
    matched: int
    num_faces: int
    images: int
    ms_per_image: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


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
    """Decode the images once (unreadable ones are left out, never fatal)."""
    out = []
    for item in items:
        try:
            out.append((item, decode_rgb(item.image_path.read_bytes())))
        except (OSError, ImageNotReadable):
            continue
    return out


def compare_pipelines(
    pipelines: Mapping[str, Recognizer],
    images: Sequence[tuple[YoloImage, np.ndarray]],
    dataset_emotions: Sequence[str],
    *,
    iou_threshold: float = COMPARE_IOU,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> list[PipelineScore]:
    """Score each pipeline on the same decoded images; timing covers everything `Recognizer.predict` does."""
    truths = [_truth(item, dataset_emotions) for item, _ in images]
    scores = []
    total = len(pipelines) * len(images)
    done = 0
    for name, recognizer in pipelines.items():
        preds: list[ImagePredictions] = []
        elapsed = 0.0
        for _, rgb in images:
            if cancel is not None and cancel.is_set():
                break
            t0 = time.perf_counter()
            faces = recognizer.predict(rgb)
            elapsed += time.perf_counter() - t0
            preds.append(_as_predictions(faces))
            done += 1
            if progress is not None:
                progress(done, total)
        n = len(preds)
        m = evaluate_detections(preds, truths[:n], EMOTIONS, iou_threshold=iou_threshold, score_threshold=0.0)
        scores.append(
            PipelineScore(
                name=name,
                model_id=recognizer.model_id,
                emotion_accuracy=m.emotion_accuracy,
                face_recall=m.face_recall,
                face_precision=m.face_precision,
                map50=m.map50,
                matched=m.matched,
                num_faces=m.num_faces,
                images=n,
                ms_per_image=1000 * elapsed / max(n, 1),
            )
        )
    return scores


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
