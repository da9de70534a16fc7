"""face-api's expression network (a small DenseNet on 112x112 face crops, 7 classes) run through onnxruntime.

The ONNX file is a port of `@vladmandic/face-api` 1.7.15's `face_expression_model.bin`, written by
scripts/convert_faceapi.py; its sha256 is checked before onnxruntime sees it. The graph takes RGB crops as float32
in 0..255 (face-api's mean-RGB normalisation is inside) and returns the 7 logits and the 256-d embedding of the
last feature layer. Crops are cut around the MediaPipe landmark box, so the network sees the same faces as the
landmark models.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import cv2
import numpy as np

from core.faceapi.framing import INPUT_SIZE, STORE_FRAMING
from core.landmarks.model_file import load_verified
from core.records import FaceData
from core.settings import Settings, get_settings

EMBEDDING_WIDTH: Final = 256
# face-api's output order, and the same classes in the project's vocabulary. The network has no "contempt".
FACEAPI_CLASSES: Final[tuple[str, ...]] = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")
NETWORK_EMOTIONS: Final[tuple[str, ...]] = ("neutral", "happy", "sad", "angry", "fear", "disgust", "surprise")
LOGITS_WIDTH: Final = len(NETWORK_EMOTIONS)
OUTPUT_WIDTH: Final = LOGITS_WIDTH + EMBEDDING_WIDTH  # one network row: 7 logits, then the embedding
# The stored rows' crop (core.faceapi.framing.STORE_FRAMING: a square, 1.3 times the landmark box's longer side).
# The network's own vote uses NETWORK_FRAMING, chosen by the crop study (bench/train.py --only crops).
CROP_SCALE: Final = STORE_FRAMING.scale
RESTORE_HINT: Final = (
    "not the converted face-api 1.7.15 network. Restore it from git, or rebuild it with scripts/convert_faceapi.py "
    "(see models/faceapi/README.md)."
)


def face_crop(rgb: np.ndarray, box: tuple[float, float, float, float], scale: float = CROP_SCALE) -> np.ndarray:
    """A 112x112 RGB uint8 crop: the square around a normalized (x0, y0, x1, y1) box, `scale` times its longer side,
    black where it leaves the image (as face-api pads to a square)."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) / 2 * w, (y0 + y1) / 2 * h
    side = max(2.0, scale * max((x1 - x0) * w, (y1 - y0) * h))
    left, top = round(cx - side / 2), round(cy - side / 2)
    size = round(side)
    # Cut what lies inside the image, then paste it into a black square: no copy of the whole frame.
    sx0, sy0, sx1, sy1 = max(0, left), max(0, top), min(w, left + size), min(h, top + size)
    square = np.zeros((size, size, 3), dtype=np.uint8)
    if sx1 > sx0 and sy1 > sy0:
        square[sy0 - top : sy1 - top, sx0 - left : sx1 - left] = rgb[sy0:sy1, sx0:sx1, :3]
    interp = cv2.INTER_AREA if size > INPUT_SIZE else cv2.INTER_LINEAR
    return np.ascontiguousarray(cv2.resize(square, (INPUT_SIZE, INPUT_SIZE), interpolation=interp))


@dataclass(frozen=True)
class NetworkOutput:
    logits: np.ndarray  # (n, 7) in FACEAPI_CLASSES order
    embedding: np.ndarray  # (n, 256)

    def rows(self) -> np.ndarray:
        """(n, OUTPUT_WIDTH) float32: logits then embedding (the layout the hybrid model reads)."""
        return np.hstack([self.logits, self.embedding]).astype(np.float32)


class ExpressionNetwork:
    """One onnxruntime session of the verified ONNX file. `run` is thread-safe (onnxruntime sessions are)."""

    def __init__(self, settings: Settings | None = None, *, threads: int = 1) -> None:
        import onnxruntime as ort  # imported here: listing models or the CLI's help must not pay for it

        settings = settings or get_settings()
        payload = load_verified(
            settings.faceapi_model_path,
            settings.faceapi_model_sha256,
            what="face-api expression network",
            restore=RESTORE_HINT,
        )
        options = ort.SessionOptions()
        # One thread per call: live frames carry one or two faces, and the worker pools parallelise by process.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(payload, options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name

    def run(self, crops: np.ndarray | Sequence[np.ndarray]) -> NetworkOutput:
        """Logits and embeddings of (n, 112, 112, 3) RGB crops (uint8 or float in 0..255)."""
        batch = np.ascontiguousarray(np.asarray(crops, dtype=np.float32).reshape(-1, INPUT_SIZE, INPUT_SIZE, 3))
        if len(batch) == 0:
            return NetworkOutput(np.zeros((0, LOGITS_WIDTH), np.float32), np.zeros((0, EMBEDDING_WIDTH), np.float32))
        logits, embedding = self._session.run(None, {self._input: batch})
        return NetworkOutput(np.asarray(logits, np.float32), np.asarray(embedding, np.float32))

    def face_rows(self, rgb: np.ndarray, faces: Sequence[FaceData]) -> np.ndarray:
        """(n, OUTPUT_WIDTH) network rows of the MediaPipe faces of one image."""
        crops = [face_crop(rgb, f.bbox) for f in faces]
        return self.run(np.asarray(crops) if crops else np.zeros((0, INPUT_SIZE, INPUT_SIZE, 3))).rows()


_shared: dict[tuple[str, str], ExpressionNetwork] = {}
_lock = threading.Lock()


def shared_network(settings: Settings | None = None) -> ExpressionNetwork:
    """The process's session of the network (one per model file): loading it costs a hash and a graph build."""
    settings = settings or get_settings()
    key = (str(settings.faceapi_model_path), settings.faceapi_model_sha256)
    with _lock:
        if key not in _shared:
            _shared[key] = ExpressionNetwork(settings)
        return _shared[key]


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def zero_shot_proba(logits: np.ndarray, classes: Sequence[str], temperature: float = 1.0) -> np.ndarray:
    """The network's own probabilities in `classes` order. A class it does not know (contempt) gets 0; classes it
    knows but `classes` lacks are dropped and the rest renormalised."""
    proba = softmax(logits, temperature)
    out = np.zeros((len(proba), len(classes)), dtype=np.float64)
    for j, name in enumerate(classes):
        if name in NETWORK_EMOTIONS:
            out[:, j] = proba[:, NETWORK_EMOTIONS.index(name)]
    total = out.sum(axis=1, keepdims=True)
    return np.asarray(np.where(total > 0, out / np.where(total > 0, total, 1.0), 1.0 / max(1, len(classes))))
