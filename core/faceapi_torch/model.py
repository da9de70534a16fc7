"""Registry kind "faceapi_finetuned": a fine-tuned face-api network, saved as ONNX and run by onnxruntime.

Inference needs no torch (the lean install runs it) and uses the crop of face-api's own kinds
(`core.faceapi.network.face_crop` around the MediaPipe landmark box).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np

from core.errors import ModelFileCorrupt
from core.faceapi.network import CROP_SCALE, INPUT_SIZE, face_crop, softmax
from core.inference import FacePrediction, top_prediction
from core.models.registry import ModelCard, ModelKind, Registry, check_emotions, new_model_id, read_artifact
from core.records import FaceData

KIND: Final[ModelKind] = "faceapi_finetuned"
ARTIFACT = "model.onnx"


def save_finetuned(
    registry: Registry, result: Any, *, data_sources: Sequence[str] = (), model_id: str | None = None
) -> ModelCard:
    """Save a `train.FineTuneResult` as ONNX with its card (atomically, through Registry.save)."""
    from core.faceapi_torch.train import export_onnx

    cfg = result.config
    card = ModelCard(
        id=model_id or new_model_id(KIND, f"faceapi_{cfg.mode}"),
        kind=KIND,
        name=f"faceapi_{cfg.mode}",
        classes=list(result.classes),
        feature_sets=["face_crop"],
        metrics=result.card_metrics(),
        params={
            "mode": cfg.mode,
            "crop_scale": CROP_SCALE,
            "epochs": cfg.epochs,
            "batch_size": cfg.batch_size,
            "lr": cfg.lr,
            "backbone_lr": cfg.backbone_lr,
            "augment": cfg.augment,
            "flip": cfg.flip,
            "gray": cfg.gray,
            "seed": cfg.seed,
        },
        data_hash=result.data_hash,
        data_sources=list(data_sources),
        artifact=ARTIFACT,
        notes="face-api's expression network (@vladmandic/face-api 1.7.15, MIT) fine-tuned "
        f"({cfg.mode}); epoch 0 is the network alone, the best validation epoch was {result.best_epoch}."
        + (" Training was cancelled; the best epoch so far was kept." if result.cancelled else ""),
    )

    def write(path: Path) -> None:
        export_onnx(result.net, str(path))
        card.params["onnx_sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()

    # The hash is known only once the file is written: Registry.save writes the card after the artifact.
    return registry.save(card, write)


class FineTunedModel:
    """A loaded fine-tuned network (needs_landmarks: its crops come from the MediaPipe landmark box)."""

    needs_landmarks = True
    needs_pixels = True
    whole_image_fallback = False

    def __init__(self, card: ModelCard, payload: bytes, *, threads: int = 1) -> None:
        import onnxruntime as ort

        self.card = card
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(payload, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for a broken graph
            raise ModelFileCorrupt(f"model {card.id}: {ARTIFACT} is not a usable ONNX file ({exc})") from exc

    @property
    def classes(self) -> list[str]:
        return list(self.card.classes)

    def predict_crops(self, crops: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """Class probabilities of (n, 112, 112, 3) face-api crops, columns in `classes` order."""
        batch = np.ascontiguousarray(np.asarray(crops, dtype=np.float32).reshape(-1, INPUT_SIZE, INPUT_SIZE, 3))
        if len(batch) == 0:
            return np.zeros((0, len(self.classes)))
        logits, _ = self._session.run(None, {"crops": batch})
        return softmax(np.asarray(logits))

    def predict_faces(self, rgb: np.ndarray, faces: Sequence[FaceData]) -> list[FacePrediction]:
        if not faces:
            return []
        scale = float(self.card.params.get("crop_scale", CROP_SCALE))
        proba = self.predict_crops([face_crop(rgb, f.bbox, scale) for f in faces])
        return [top_prediction(f.bbox, self.classes, p, f.landmarks) for f, p in zip(faces, proba, strict=True)]


def load_artifact(folder: Path, card: ModelCard) -> FineTunedModel:
    """Registry loader for kind "faceapi_finetuned": the ONNX file, checked against the hash its card recorded."""
    check_emotions(card)
    return FineTunedModel(card, read_artifact(folder, card, "onnx_sha256"))
