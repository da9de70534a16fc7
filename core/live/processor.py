"""The per-frame path of live detection: frame -> landmarks (VIDEO mode) -> model -> smoothing -> overlay.

One `FrameProcessor` per browser session: its FaceLandmarker runs in VIDEO mode, which keeps tracking state between
frames and needs strictly increasing timestamps, so it can never be shared between streams.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import av
import numpy as np

from core.inference import ExpressionModel, FacePrediction
from core.landmarks.extractor import LandmarkExtractor
from core.live.overlay import colour_of, draw_face
from core.live.smoothing import SmoothingMode, TemporalSmoother
from core.live.stats import FrameStats, StatsSnapshot
from core.records import FaceData
from core.settings import Settings

log = logging.getLogger("core.live")

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class LiveFace:
    track_id: int
    box: Box  # normalized x0, y0, x1, y1
    emotion: str
    confidence: float
    probabilities: dict[str, float]


@dataclass(frozen=True)
class FrameResult:
    """What one processed frame found, handed from the video thread to the page."""

    faces: tuple[LiveFace, ...]
    stats: StatsSnapshot
    model_id: str
    timestamp_ms: int
    error: str | None = None
    classes: tuple[str, ...] = field(default=())

    @property
    def main_face(self) -> LiveFace | None:
        """The largest face: the one the artwork and the probability chart follow."""
        if not self.faces:
            return None
        return max(self.faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))


class FrameProcessor:
    """Annotates frames and publishes the latest `FrameResult`. Settings may be changed from another thread."""

    def __init__(
        self,
        model: ExpressionModel,
        *,
        settings: Settings | None = None,
        extractor: LandmarkExtractor | None = None,
        smoothing: SmoothingMode = "ema",
        draw_mesh: bool = False,
        num_faces: int = 4,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._num_faces = num_faces
        self._extractor = extractor
        self._clock = clock
        self._t0 = clock()
        self._stats = FrameStats()
        self._smoother = TemporalSmoother(mode=smoothing)
        self.draw_mesh = draw_mesh
        # NOTE: the webrtc callback runs in a worker thread while the page script reads results in its own thread;
        # the latest result and frame cross over under this lock (never st.* calls in the callback).
        self._lock = threading.Lock()
        self._latest: FrameResult | None = None
        self._last_frame: av.VideoFrame | None = None
        self._model = model
        self._classes: tuple[str, ...] = ()
        self.set_model(model)

    # ---- configuration (page thread) ---------------------------------------------------------------------------
    @property
    def model(self) -> ExpressionModel:
        return self._model

    def set_model(self, model: ExpressionModel) -> None:
        """Switch models between frames; the landmarker is created the first time a model needs it."""
        if model.needs_landmarks and self._extractor is None:
            self._extractor = LandmarkExtractor(self._settings, mode="video", num_faces=self._num_faces)
        with self._lock:
            self._model = model
            self._classes = tuple(model.card.classes)
            self._smoother.reset()

    @property
    def smoothing(self) -> str:
        return self._smoother.mode

    def set_smoothing(self, mode: SmoothingMode) -> None:
        with self._lock:
            self._smoother = TemporalSmoother(mode=mode)

    # ---- the hot path (video thread) ---------------------------------------------------------------------------
    def _timestamp_ms(self) -> int:
        # Monotonic clock, not frame pts: pts restart when the browser renegotiates the stream.
        return int((self._clock() - self._t0) * 1000.0)

    def process(self, image: np.ndarray, *, bgr: bool = False) -> tuple[np.ndarray, FrameResult]:
        """Detect, predict, smooth and draw on `image` in place (RGB, or BGR with `bgr=True`)."""
        start = time.perf_counter()
        ts = self._timestamp_ms()
        with self._lock:
            model, classes, smoother = self._model, self._classes, self._smoother
        rgb = np.ascontiguousarray(image[..., ::-1]) if bgr else image
        error = None
        faces: tuple[LiveFace, ...] = ()
        try:
            face_data: Sequence[FaceData] = ()
            if model.needs_landmarks:
                assert self._extractor is not None
                face_data = self._extractor.detect_video(rgb, ts)
            predictions = model.predict_faces(rgb, face_data) if face_data or not model.needs_landmarks else []
            faces = self._smooth_and_draw(image, predictions, face_data, classes, smoother, bgr)
        except Exception as exc:  # a bad frame must not stop the stream: report it and show the frame as is
            log.exception("live frame failed")
            error = f"{type(exc).__name__}: {exc}"
        self._stats.add(start, time.perf_counter() - start)
        result = FrameResult(faces, self._stats.snapshot(), model.card.id, ts, error, classes)
        with self._lock:
            self._latest = result
        return image, result

    def _smooth_and_draw(
        self,
        image: np.ndarray,
        predictions: Sequence[FacePrediction],
        face_data: Sequence[FaceData],
        classes: tuple[str, ...],
        smoother: TemporalSmoother,
        bgr: bool,
    ) -> tuple[LiveFace, ...]:
        if not predictions:
            smoother.update((), ())
            return ()
        names = classes or tuple(predictions[0].probabilities)
        probas = [np.fromiter((p.probabilities.get(c, 0.0) for c in names), float, len(names)) for p in predictions]
        smoothed = smoother.update([p.box for p in predictions], probas)
        out = []
        mesh = self.draw_mesh
        for i, (pred, s) in enumerate(zip(predictions, smoothed, strict=True)):
            emotion = names[s.label]
            confidence = float(s.proba[s.label])
            landmarks = None
            if mesh:
                landmarks = pred.landmarks
                if landmarks is None and len(face_data) == len(predictions):
                    landmarks = face_data[i].landmarks
            colour = colour_of(emotion)
            draw_face(image, pred.box, f"{emotion} {confidence:.0%}", colour[::-1] if bgr else colour, landmarks)
            probs = dict(zip(names, (float(v) for v in s.proba), strict=True))
            out.append(LiveFace(s.track_id, pred.box, emotion, confidence, probs))
        return tuple(out)

    def process_frame(self, frame: av.VideoFrame) -> av.VideoFrame:
        """The `video_frame_callback` of streamlit-webrtc: annotated frame out, result kept for the page."""
        rgb = frame.to_ndarray(format="rgb24")
        with self._lock:
            self._last_frame = frame
        self.process(rgb)
        out = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        out.pts = frame.pts
        if frame.time_base is not None:
            out.time_base = frame.time_base
        return out

    # ---- results (page thread) ---------------------------------------------------------------------------------
    def latest(self) -> FrameResult | None:
        with self._lock:
            return self._latest

    def age_s(self, result: FrameResult) -> float:
        """Seconds since `result`'s frame was processed (large when the stream has stopped)."""
        return self._clock() - self._t0 - result.timestamp_ms / 1000.0

    def current_frame_rgb(self) -> np.ndarray | None:
        """The last camera frame as received, without overlay (for snapshots)."""
        with self._lock:
            frame = self._last_frame
        return None if frame is None else frame.to_ndarray(format="rgb24")

    def close(self) -> None:
        if self._extractor is not None:
            self._extractor.close()
            self._extractor = None

    def __enter__(self) -> FrameProcessor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
