"""The per-frame path of live detection: frame -> `Recognizer` (landmarks in VIDEO mode, model) -> smoothing ->
overlay.

One `FrameProcessor` per browser session: its FaceLandmarker runs in VIDEO mode, which keeps tracking state between
frames and needs strictly increasing timestamps, so it can never be shared between streams. Prediction is the same
`core.inference.Recognizer` the API, Batch test, `evaluate` and active learning use; only smoothing and drawing are
live-specific.

Frames are never queued here: streamlit-webrtc hands the callback the newest frame it has (`async_processing`),
and a frame that arrives while the recognizer is busy (the warm-up) is passed through unannotated instead of
waiting. Note that aiortc delivers frames to that worker at the pace of the outgoing VP8 encoder, one received frame
per sent frame: when the machine is short of CPU, received frames wait upstream of this callback, where it cannot
drop them (a pts-based "stale" check here was tried and only stopped all predictions once the backlog existed).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import av
import numpy as np

from core.inference import ExpressionModel, FacePrediction, Recognizer
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

    @property
    def label(self) -> str:
        """The text drawn on the video box; the side panel shows the same (both from this smoothed result)."""
        return f"{self.emotion} {self.confidence:.0%}"


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


def _made_up_face() -> FaceData:
    """A face-shaped input for warming a model up: finite landmarks inside a box, no expression."""
    rng = np.random.default_rng(0)
    landmarks = np.column_stack([rng.uniform(0.35, 0.65, (478, 2)), rng.uniform(-0.05, 0.05, 478)]).astype(np.float32)
    return FaceData(landmarks, np.zeros(52, np.float32), np.eye(4, dtype=np.float32), (0.35, 0.35, 0.65, 0.65))


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
        # Held while a frame (or the warm-up) runs the recognizer: the landmarker is not thread-safe, and a frame
        # that finds it busy is passed through rather than queued (see process_frame).
        self._busy = threading.Lock()
        self._latest: FrameResult | None = None
        self._last_frame: av.VideoFrame | None = None
        self._recognizer = Recognizer(model, extractor)
        self._classes: tuple[str, ...] = ()
        self.skipped = 0  # frames passed through unannotated because the recognizer was busy (the warm-up)
        self.set_model(model)

    # ---- configuration (page thread) ---------------------------------------------------------------------------
    @property
    def model(self) -> ExpressionModel:
        """The model chosen (the frames may run its cheaper `live_variant`: see `running`)."""
        return self._model

    @property
    def running(self) -> ExpressionModel:
        """The model the frames run: the chosen one, or the cheaper variant it offers for video."""
        return self._recognizer.model

    def set_model(self, model: ExpressionModel) -> None:
        """Switch models between frames; the landmarker is created the first time a model needs it. A model that
        offers a `live_variant` (face-api's network voting on several crops) runs that cheaper variant here."""
        if model.needs_landmarks and self._extractor is None:
            self._extractor = LandmarkExtractor(self._settings, mode="video", num_faces=self._num_faces)
        variant = getattr(model, "live_variant", None)
        with self._lock:
            self._model = model
            self._recognizer = Recognizer(variant() if callable(variant) else model, self._extractor)
            self._classes = tuple(model.card.classes)
            self._smoother.reset()

    def warm_up(self, rgb: np.ndarray | None = None) -> float:
        """Run the recognizer once before the stream starts, so the first camera frame does not pay for loading
        the landmarker graph and the model's first call. Returns the seconds it took; thread-safe.

        Without `rgb`, a grey frame warms the landmarker and a made-up face the model (the model only runs on
        found faces, and a grey frame has none).
        """
        start = time.perf_counter()
        image = rgb if rgb is not None else np.full((480, 640, 3), 128, np.uint8)
        with self._lock:
            recognizer = self._recognizer
        with self._busy:
            try:
                found = recognizer.predict(image, timestamp_ms=self._timestamp_ms())
                if not found and recognizer.model.needs_landmarks:
                    recognizer.model.predict_faces(image, [_made_up_face()])
            except Exception:  # warming is best effort: a real frame reports any real problem
                log.warning("live warm-up failed", exc_info=True)
        return time.perf_counter() - start

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
            recognizer, classes, smoother = self._recognizer, self._classes, self._smoother
        rgb = np.ascontiguousarray(image[..., ::-1]) if bgr else image
        error = None
        faces: tuple[LiveFace, ...] = ()
        try:
            predictions = recognizer.predict(rgb, timestamp_ms=ts)
            faces = self._smooth_and_draw(image, predictions, classes, smoother, bgr)
        except Exception as exc:  # a bad frame must not stop the stream: report it and show the frame as is
            log.exception("live frame failed")
            error = f"{type(exc).__name__}: {exc}"
        self._stats.add(start, time.perf_counter() - start)
        result = FrameResult(faces, self._stats.snapshot(), recognizer.model_id, ts, error, classes)
        with self._lock:
            self._latest = result
        return image, result

    def _smooth_and_draw(
        self,
        image: np.ndarray,
        predictions: Sequence[FacePrediction],
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
        for pred, s in zip(predictions, smoothed, strict=True):
            emotion = names[s.label]
            probs = dict(zip(names, (float(v) for v in s.proba), strict=True))
            face = LiveFace(s.track_id, pred.box, emotion, float(s.proba[s.label]), probs)
            colour = colour_of(emotion)
            draw_face(image, pred.box, face.label, colour[::-1] if bgr else colour, pred.landmarks if mesh else None)
            out.append(face)
        return tuple(out)

    def process_frame(self, frame: av.VideoFrame) -> av.VideoFrame:
        """The `video_frame_callback` of streamlit-webrtc: annotated frame out, result kept for the page.

        A frame that arrives while the recognizer is busy (the warm-up) goes back as it came: dropped from
        processing, never queued behind it.
        """
        with self._lock:
            self._last_frame = frame
        if not self._busy.acquire(blocking=False):
            self.skipped += 1
            return frame
        try:
            rgb = frame.to_ndarray(format="rgb24")
            self.process(rgb)
        finally:
            self._busy.release()
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
