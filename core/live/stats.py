"""Processing rate and per-frame latency over a sliding window of recent frames."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class StatsSnapshot:
    fps: float  # frames processed per second over the window
    latency_ms: float  # mean processing time per frame over the window
    last_latency_ms: float
    frames: int  # frames processed since the start


class FrameStats:
    """Keeps the last `window` frame start times and processing durations (O(1) per frame)."""

    def __init__(self, window: int = 30) -> None:
        self._starts: deque[float] = deque(maxlen=window)
        self._durations: deque[float] = deque(maxlen=window)
        self._sum = 0.0
        self.frames = 0

    def add(self, start_s: float, duration_s: float) -> None:
        if len(self._durations) == self._durations.maxlen:
            self._sum -= self._durations[0]
        self._starts.append(start_s)
        self._durations.append(duration_s)
        self._sum += duration_s
        self.frames += 1

    def snapshot(self) -> StatsSnapshot:
        n = len(self._durations)
        if n == 0:
            return StatsSnapshot(0.0, 0.0, 0.0, 0)
        span = self._starts[-1] - self._starts[0]
        fps = (n - 1) / span if n > 1 and span > 0 else 0.0
        return StatsSnapshot(fps, 1000.0 * self._sum / n, 1000.0 * self._durations[-1], self.frames)
