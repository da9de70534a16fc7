"""Temporal smoothing of per-face class probabilities across video frames.

Faces are matched to tracks by box overlap, so that with several faces each one keeps its own history.
Two smoothers: an exponential moving average of the probabilities, and hysteresis on the shown label
(a new label must win for a few consecutive frames before it replaces the old one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np

SmoothingMode = Literal["off", "ema", "hysteresis"]
SMOOTHING_MODES: Final[tuple[str, ...]] = ("off", "ema", "hysteresis")

Box = tuple[float, float, float, float]


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two normalized (x0, y0, x1, y1) boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class _Track:
    track_id: int
    box: Box
    proba: np.ndarray
    label: int
    challenger: int = -1
    streak: int = 0
    missed: int = 0


@dataclass
class Smoothed:
    track_id: int
    proba: np.ndarray
    label: int  # index into the class list


@dataclass
class TemporalSmoother:
    """Smooths one probability vector per face; call `update` once per frame with that frame's faces."""

    mode: SmoothingMode = "ema"
    alpha: float = 0.4  # EMA weight of the newest frame
    switch_frames: int = 4  # hysteresis: frames a new label must lead before it is shown
    min_iou: float = 0.3  # a face overlapping a track this much continues it
    max_missed: int = 10  # frames a track survives without a face (short detector drop-outs)
    _tracks: list[_Track] = field(default_factory=list)
    _next_id: int = 0

    def __post_init__(self) -> None:
        if self.mode not in SMOOTHING_MODES:
            raise ValueError(f"unknown smoothing {self.mode!r}; valid: {', '.join(SMOOTHING_MODES)}")

    def reset(self) -> None:
        self._tracks.clear()

    def _match(self, boxes: Sequence[Box]) -> list[_Track | None]:
        """Greedy best-overlap matching of this frame's boxes onto live tracks."""
        pairs = sorted(
            ((iou(box, t.box), i, j) for i, box in enumerate(boxes) for j, t in enumerate(self._tracks)),
            reverse=True,
        )
        out: list[_Track | None] = [None] * len(boxes)
        used: set[int] = set()
        for overlap, i, j in pairs:
            if overlap < self.min_iou:
                break
            if out[i] is None and j not in used:
                out[i] = self._tracks[j]
                used.add(j)
        return out

    def update(self, boxes: Sequence[Box], probas: Sequence[np.ndarray]) -> list[Smoothed]:
        """Smoothed probabilities and shown label per face, in the order given."""
        matched = self._match(boxes) if self.mode != "off" else [None] * len(boxes)
        results: list[Smoothed] = []
        seen: set[int] = set()
        for box, proba, track in zip(boxes, probas, matched, strict=True):
            proba = np.asarray(proba, dtype=np.float64)
            if track is None:
                track = _Track(self._next_id, box, proba, int(np.argmax(proba)))
                self._next_id += 1
                if self.mode != "off":
                    self._tracks.append(track)
            else:
                track.box = box
                track.missed = 0
                self._advance(track, proba)
            seen.add(track.track_id)
            results.append(Smoothed(track.track_id, track.proba, track.label))
        for t in self._tracks:
            if t.track_id not in seen:
                t.missed += 1
        self._tracks = [t for t in self._tracks if t.missed <= self.max_missed]
        return results

    def _advance(self, track: _Track, proba: np.ndarray) -> None:
        if self.mode == "ema":
            track.proba = self.alpha * proba + (1.0 - self.alpha) * track.proba
            track.label = int(np.argmax(track.proba))
            return
        # Hysteresis: probabilities are shown as they come, the label only changes after a steady lead.
        track.proba = proba
        best = int(np.argmax(proba))
        if best == track.label:
            track.challenger, track.streak = -1, 0
        elif best == track.challenger:
            track.streak += 1
        else:
            track.challenger, track.streak = best, 1
        if track.streak >= self.switch_frames:
            track.label, track.challenger, track.streak = best, -1, 0
