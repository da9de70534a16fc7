"""The active model for long-running processes (the REST API, the Live page), reloaded when another is activated.

Activation rewrites `models/active.json` atomically (a new inode), so one `stat` tells whether it changed. A watcher
stats it at most once per `interval_s` and loads the new model only when the stamp differs; callers between checks
pay nothing. A model that fails to load is logged and the previous one keeps serving.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable

from core.inference import ExpressionModel
from core.models.registry import Registry

log = logging.getLogger("core.active_model")

DEFAULT_INTERVAL_S = 1.0


class ActiveModelWatcher:
    """Holds the served model and swaps it when `stamp()` changes. Safe to call from many threads."""

    def __init__(
        self,
        load: Callable[[], ExpressionModel | None],
        stamp: Callable[[], Hashable],
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._stamp_fn = stamp
        self._interval = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._stamp: Hashable = stamp()
        self._checked = clock()
        self.error = ""  # why the latest load failed, if it did
        self.model: ExpressionModel | None = None
        self._try_load()

    @classmethod
    def for_registry(cls, registry: Registry, *, interval_s: float = DEFAULT_INTERVAL_S) -> ActiveModelWatcher:
        def load() -> ExpressionModel | None:
            model_id = registry.active_id()
            model: ExpressionModel | None = None if model_id is None else registry.load(model_id)
            return model

        return cls(load, registry.active_stamp, interval_s=interval_s)

    def poll(self) -> bool:
        """Reload if the stamp changed since the last check (checked at most once per interval); True on a swap.
        While one thread reloads, the others go on with the current model instead of waiting."""
        now = self._clock()
        if now - self._checked < self._interval or not self._lock.acquire(blocking=False):
            return False
        try:
            self._checked = now
            stamp = self._stamp_fn()
            if stamp == self._stamp:
                return False
            self._stamp = stamp
            old = self.model.card.id if self.model is not None else None
            if not self._try_load():
                return False
            new = self.model.card.id if self.model is not None else None
            log.info("active model reloaded", extra={"model_id": new, "previous_id": old})
            return True
        finally:
            self._lock.release()

    def _try_load(self) -> bool:
        try:
            model = self._load()
        except Exception as exc:  # a broken model file must not take down the process, nor the model serving
            self.error = f"the model could not be loaded: {exc}"
            log.warning("model loading failed; the previous model (if any) keeps serving", extra={"error": str(exc)})
            return False
        self.model, self.error = model, ""
        return True

    def current(self) -> ExpressionModel | None:
        self.poll()
        return self.model
