"""Landmarks of one image with the MediaPipe Tasks FaceLandmarker (mediapipe >= 1.2 has no `solutions`)."""

from __future__ import annotations

import atexit
import weakref
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any, Literal

import cv2
import mediapipe as mp
import numpy as np
from mediapipe.tasks.python import BaseOptions, vision

from core.errors import ImageNotReadable
from core.imaging import decode_rgb, limit_size, pad_border
from core.landmarks.model_file import load_verified
from core.native_logs import quiet_native_stderr
from core.records import FaceData
from core.schema import EXTRACTION_ERROR, EXTRACTION_NO_FACE, EXTRACTION_OK, NUM_BLENDSHAPES, NUM_LANDMARKS
from core.settings import Settings, get_settings

# A face whose landmark box comes this close to an image edge is reported as a tight crop.
BORDER_MARGIN = 0.02
PAD_FRACTION = 0.2
# MediaPipe's face detector misses most faces in images this small (48 px lab crops): upscale them and retry.
UPSCALE_BELOW = 160
UPSCALE_TO = 256


@dataclass
class Outcome:
    """What extraction found in one image: a state, a user-facing reason, and the largest face if any."""

    state: str
    reason: str = ""
    num_faces: int = 0
    face: FaceData | None = None
    notes: list[str] = field(default_factory=list)


def _faces_from_result(result: vision.FaceLandmarkerResult) -> list[FaceData]:
    faces = []
    for i, points in enumerate(result.face_landmarks):
        # fromiter over a flat generator: about twice as fast as building 478 tuples (this runs on every frame).
        lm = np.fromiter(chain.from_iterable((p.x, p.y, p.z) for p in points), np.float32, 3 * len(points))
        lm = lm.reshape(-1, 3)
        if result.face_blendshapes and i < len(result.face_blendshapes):
            bs = np.array([c.score for c in result.face_blendshapes[i]], dtype=np.float32)
        else:
            bs = np.zeros(NUM_BLENDSHAPES, dtype=np.float32)
        if result.facial_transformation_matrixes and i < len(result.facial_transformation_matrixes):
            tf = np.asarray(result.facial_transformation_matrixes[i], dtype=np.float32).reshape(4, 4)
        else:
            tf = np.eye(4, dtype=np.float32)
        faces.append(FaceData(landmarks=lm, blendshapes=bs, transform=tf, bbox=bbox_of(lm)))
    # Largest first: the main subject of a portrait.
    faces.sort(key=lambda f: (f.bbox[2] - f.bbox[0]) * (f.bbox[3] - f.bbox[1]), reverse=True)
    return faces


def bbox_of(landmarks: np.ndarray) -> tuple[float, float, float, float]:
    """Normalized (x0, y0, x1, y1) box of the landmarks, clipped to the image."""
    x0, y0 = np.clip(landmarks[:, :2].min(axis=0), 0.0, 1.0)
    x1, y1 = np.clip(landmarks[:, :2].max(axis=0), 0.0, 1.0)
    return float(x0), float(y0), float(x1), float(y1)


def _touches_border(face: FaceData) -> bool:
    x0, y0, x1, y1 = face.bbox
    return x0 <= BORDER_MARGIN or y0 <= BORDER_MARGIN or x1 >= 1 - BORDER_MARGIN or y1 >= 1 - BORDER_MARGIN


def _unpad(face: FaceData, px: int, py: int, width: int, height: int) -> FaceData:
    """Map landmarks found on a padded image back to the coordinates of the unpadded one."""
    pw, ph = width + 2 * px, height + 2 * py
    lm = face.landmarks.copy()
    lm[:, 0] = (lm[:, 0] * pw - px) / width
    lm[:, 1] = (lm[:, 1] * ph - py) / height
    lm[:, 2] = lm[:, 2] * pw / width  # MediaPipe scales z like x
    return FaceData(landmarks=lm, blendshapes=face.blendshapes, transform=face.transform, bbox=bbox_of(lm))


# Every open extractor, so that all can be closed deterministically. A MediaPipe landmarker left for the garbage
# collector closes itself from `__del__`, which deadlocks when that runs inside a collection triggered mid-call
# (seen in a test session: close() waits on MediaPipe's dispatcher thread while the collecting thread holds on).
# So a landmarker is never closed by the collector: when its extractor is dropped unclosed, a finalizer parks the
# landmarker in `_orphans` (appending only), and it is closed at the next safe point: a new extractor, or exit.
_open_extractors: weakref.WeakSet[LandmarkExtractor] = weakref.WeakSet()
_orphans: list[Any] = []


def _close_landmarker(landmarker: Any) -> None:
    try:
        landmarker.close()
    except RuntimeError:
        # At interpreter exit MediaPipe's own dispatcher thread pool may already be shut down ("cannot schedule new
        # futures after shutdown"): the process is ending, so there is nothing left to free. Mark it closed, or its
        # __del__ tries again during teardown and prints a traceback into the server's log.
        landmarker._handle = None


def _close_orphans() -> None:
    while _orphans:
        try:
            landmarker = _orphans.pop()
        except IndexError:  # another thread took the last one
            return
        _close_landmarker(landmarker)


def close_all() -> None:
    """Close every extractor still open (at interpreter exit, and at the end of a test session)."""
    for extractor in list(_open_extractors):
        extractor.close()
    _close_orphans()


atexit.register(close_all)


class LandmarkExtractor:
    """One FaceLandmarker. Not thread-safe: use one per worker process, thread or video stream."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        mode: Literal["image", "video"] = "image",
        num_faces: int = 4,
        model_path: Path | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        path = model_path or self.settings.face_landmarker_path
        self.model_sha256 = self.settings.face_landmarker_sha256
        buffer = load_verified(path, self.model_sha256)
        self.mode = mode
        options = vision.FaceLandmarkerOptions(
            base_options=BaseOptions(model_asset_buffer=buffer),
            running_mode=vision.RunningMode.VIDEO if mode == "video" else vision.RunningMode.IMAGE,
            num_faces=num_faces,
            output_face_blendshapes=True,
            output_facial_transformation_matrixes=True,
        )
        _close_orphans()  # a safe point: not inside a garbage collection
        with quiet_native_stderr():  # MediaPipe and TFLite announce themselves on stderr at start-up
            self._landmarker = vision.FaceLandmarker.create_from_options(options)
        self._last_ts = -1
        self._park_if_dropped = weakref.finalize(self, _orphans.append, self._landmarker)
        _open_extractors.add(self)

    def __enter__(self) -> LandmarkExtractor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._park_if_dropped.detach()
        if self._landmarker is not None:
            _close_landmarker(self._landmarker)
            self._landmarker = None
        _open_extractors.discard(self)

    def detect(self, rgb: np.ndarray) -> list[FaceData]:
        """All faces in an RGB uint8 image (IMAGE mode), largest first."""
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        return _faces_from_result(self._landmarker.detect(image))

    def detect_video(self, rgb: np.ndarray, timestamp_ms: int) -> list[FaceData]:
        """All faces in one video frame (VIDEO mode). Timestamps are forced to increase strictly."""
        ts = max(int(timestamp_ms), self._last_ts + 1)
        self._last_ts = ts
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        return _faces_from_result(self._landmarker.detect_for_video(image, ts))

    def detect_still(self, rgb: np.ndarray) -> list[FaceData]:
        """All faces of a still image, largest first, robust to huge images and tight crops.

        Huge images are downscaled (normalized coordinates are unaffected). Every image is padded before detection:
        tight crops (forehead or chin cut off) defeat the face detector, and on ordinary photos the border costs
        nothing measurable, so the common case is one detection per image.
        """
        rgb, _ = limit_size(rgb, self.settings.max_image_side)
        padded, px, py = pad_border(rgb, PAD_FRACTION)
        ph, pw = rgb.shape[:2]
        faces = [_unpad(f, px, py, pw, ph) for f in self.detect(padded)]
        if not faces:
            # A small face in a large photo can fall below the detector's range once padded: try unpadded.
            faces = self.detect(rgb)
        if not faces and max(ph, pw) < UPSCALE_BELOW:
            # A tiny image (a 48 px crop) is below the detector's range: upscale it (normalized coordinates are
            # unaffected) and try again, padded.
            f = UPSCALE_TO / max(ph, pw)
            big = cv2.resize(rgb, (round(pw * f), round(ph * f)), interpolation=cv2.INTER_CUBIC)
            padded, px, py = pad_border(big, PAD_FRACTION)
            faces = [_unpad(face, px, py, big.shape[1], big.shape[0]) for face in self.detect(padded)]
        return faces

    def extract(self, rgb: np.ndarray) -> Outcome:
        """The largest face of a decoded image (see `detect_still`), with the reasons worth telling the user."""
        notes: list[str] = []
        h, w = rgb.shape[:2]
        if max(h, w) > self.settings.max_image_side:
            notes.append(f"downscaled from {w}x{h}")
        faces = self.detect_still(rgb)
        if not faces:
            return Outcome(EXTRACTION_NO_FACE, "; ".join(["no face found", *notes]), 0, None, notes)
        if _touches_border(faces[0]):
            notes.append("tight crop: the face touches the border (padded before detection)")
        if len(faces) > 1:
            notes.append(f"{len(faces)} faces found; kept the largest")
        assert faces[0].landmarks.shape == (NUM_LANDMARKS, 3)
        return Outcome(EXTRACTION_OK, "; ".join(notes), len(faces), faces[0], notes)

    def extract_bytes(self, data: bytes) -> Outcome:
        """Decode once and extract; unreadable files become an error outcome instead of an exception."""
        try:
            rgb = decode_rgb(data, self.settings.max_image_pixels)
        except ImageNotReadable as exc:
            return Outcome(EXTRACTION_ERROR, str(exc))
        return self.extract(rgb)
