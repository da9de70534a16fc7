"""The model the API serves, loaded once at startup, and a small pool of recognizers for concurrent requests."""

from __future__ import annotations

import logging
import os
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.inference import ExpressionModel, FacePrediction, Recognizer
from core.landmarks.extractor import LandmarkExtractor
from core.registry import Registry
from core.settings import Settings

log = logging.getLogger("core.api.service")

ModelLoader = Callable[[Settings], ExpressionModel | None]


class ModelUnavailable(RuntimeError):
    """No model could be loaded at startup; the API answers 503 with the reason."""


def load_active_model(settings: Settings) -> ExpressionModel | None:
    """The registry's active model (the shipped starter model when none was activated), or None."""
    registry = Registry(settings.models_dir)
    model_id = registry.active_id()
    if model_id is None:
        return None
    model: ExpressionModel = registry.load(model_id)
    return model


@dataclass
class PredictionService:
    """Borrow a recognizer per request: MediaPipe landmarkers are not thread-safe, so each one serves one request."""

    model: ExpressionModel | None
    reason: str
    _pool: queue.Queue[Recognizer]
    size: int

    @classmethod
    def start(
        cls, settings: Settings, loader: ModelLoader = load_active_model, size: int | None = None
    ) -> PredictionService:
        size = size or max(1, min(4, os.cpu_count() or 1))
        pool: queue.Queue[Recognizer] = queue.Queue()
        t0 = time.perf_counter()
        try:
            model = loader(settings)
        except Exception as exc:  # a broken model file must not stop the API from starting and saying so
            log.exception("model loading failed")
            return cls(None, f"the model could not be loaded: {exc}", pool, 0)
        if model is None:
            return cls(None, "no model is available: train and activate one, or ship models/starter", pool, 0)
        for _ in range(size):
            extractor = LandmarkExtractor(settings, mode="image") if model.needs_landmarks else None
            pool.put(Recognizer(model, extractor))
        log.info(
            "model loaded",
            extra={
                "model_id": model.card.id,
                "kind": model.card.kind,
                "pool": size,
                "ms": round(1000 * (time.perf_counter() - t0), 1),
            },
        )
        return cls(model, "", pool, size)

    def predict(self, rgb: np.ndarray, timeout_s: float = 30.0) -> list[FacePrediction]:
        if self.model is None:
            raise ModelUnavailable(self.reason)
        try:
            recognizer = self._pool.get(timeout=timeout_s)
        except queue.Empty as exc:
            raise ModelUnavailable("the server is busy; try again in a moment") from exc
        try:
            return recognizer.predict(rgb)
        finally:
            self._pool.put(recognizer)

    def close(self) -> None:
        for _ in range(self.size):
            try:
                recognizer = self._pool.get_nowait()
            except queue.Empty:
                break
            if recognizer.extractor is not None:
                recognizer.extractor.close()
