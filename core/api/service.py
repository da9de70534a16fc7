"""The model the API serves (the registry's active one, swapped within a second or two of another activation) and a
small pool of MediaPipe landmarkers for concurrent requests."""

from __future__ import annotations

import logging
import os
import queue
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np

from core.active_model import ActiveModelWatcher
from core.inference import ExpressionModel, FacePrediction, Recognizer
from core.landmarks.extractor import LandmarkExtractor
from core.models.registry import Registry, install_starter
from core.settings import Settings

log = logging.getLogger("core.api.service")

ModelLoader = Callable[[Settings], ExpressionModel | None]
NO_MODEL = "no model is available: train and activate one, or ship models/starter"


class ModelUnavailable(RuntimeError):
    """No model is loaded; the API answers 503 with the reason."""


def load_active_model(settings: Settings) -> ExpressionModel | None:
    """The registry's active model (the shipped starter model when none was activated), or None."""
    install_starter(settings)
    registry = Registry(settings.models_dir)
    model_id = registry.active_id()
    if model_id is None:
        return None
    model: ExpressionModel = registry.load(model_id)
    return model


@dataclass
class PredictionService:
    """Borrow a landmarker per request: MediaPipe landmarkers are not thread-safe, so each one serves one request.
    The model itself is stateless at prediction time and shared."""

    watcher: ActiveModelWatcher
    settings: Settings
    _pool: queue.Queue[LandmarkExtractor | None]
    size: int

    @classmethod
    def start(
        cls,
        settings: Settings,
        loader: ModelLoader = load_active_model,
        size: int | None = None,
        *,
        watch: Callable[[], Hashable] | None = None,
        interval_s: float = 1.0,
    ) -> PredictionService:
        """Load the model; `watch()` (default: the stamp of the registry's `active.json`) is checked at most every
        `interval_s` and the model reloaded when it changes."""
        size = size or max(1, min(4, os.cpu_count() or 1))
        t0 = time.perf_counter()
        watcher = ActiveModelWatcher(
            lambda: loader(settings),
            watch or Registry(settings.models_dir).active_stamp,
            interval_s=interval_s,
        )
        pool: queue.Queue[LandmarkExtractor | None] = queue.Queue()
        model = watcher.model
        for _ in range(size):
            # Landmarkers are made up front when the model needs them (the first request should not pay), else on
            # first use after a landmark model is activated.
            pool.put(LandmarkExtractor(settings, mode="image") if model is not None and model.needs_landmarks else None)
        if model is not None:
            log.info(
                "model loaded",
                extra={
                    "model_id": model.card.id,
                    "kind": model.card.kind,
                    "pool": size,
                    "ms": round(1000 * (time.perf_counter() - t0), 1),
                },
            )
        return cls(watcher, settings, pool, size)

    @property
    def model(self) -> ExpressionModel | None:
        """The model in use now (reloaded first if another one was activated)."""
        return self.watcher.current()

    @property
    def reason(self) -> str:
        """Why there is no model, when there is none."""
        return self.watcher.error or NO_MODEL

    def predict(self, rgb: np.ndarray, timeout_s: float = 30.0) -> tuple[ExpressionModel, list[FacePrediction]]:
        """The model that answered (one request never mixes two models) and its predictions."""
        model = self.model
        if model is None:
            raise ModelUnavailable(self.reason)
        try:
            extractor = self._pool.get(timeout=timeout_s)
        except queue.Empty as exc:
            raise ModelUnavailable("the server is busy; try again in a moment") from exc
        try:
            if model.needs_landmarks and extractor is None:
                extractor = LandmarkExtractor(self.settings, mode="image")
            return model, Recognizer(model, extractor if model.needs_landmarks else None).predict(rgb)
        finally:
            self._pool.put(extractor)

    def close(self) -> None:
        for _ in range(self.size):
            try:
                extractor = self._pool.get_nowait()
            except queue.Empty:
                break
            if extractor is not None:
                extractor.close()
