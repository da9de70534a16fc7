"""Temporal smoothing: EMA, hysteresis, off, and per-face tracks."""

from __future__ import annotations

import numpy as np
import pytest

from core.live.smoothing import TemporalSmoother, iou

LEFT = (0.1, 0.1, 0.3, 0.4)
RIGHT = (0.6, 0.1, 0.8, 0.4)
A, B = np.array([0.9, 0.1]), np.array([0.1, 0.9])


def test_iou() -> None:
    assert iou(LEFT, LEFT) == pytest.approx(1.0)
    assert iou(LEFT, RIGHT) == 0.0
    assert iou((0, 0, 1, 1), (0, 0, 0.5, 1)) == pytest.approx(0.5)


def test_ema_moves_part_way_towards_the_new_frame() -> None:
    s = TemporalSmoother(mode="ema", alpha=0.4)
    s.update([LEFT], [A])
    out = s.update([LEFT], [B])[0]
    assert out.proba == pytest.approx(0.4 * B + 0.6 * A)
    assert out.label == 0  # one contrary frame does not flip the label


def test_hysteresis_switches_only_after_a_steady_lead() -> None:
    s = TemporalSmoother(mode="hysteresis", switch_frames=3)
    assert s.update([LEFT], [A])[0].label == 0
    labels = [s.update([LEFT], [B])[0].label for _ in range(3)]
    assert labels == [0, 0, 1]
    # An interrupted streak starts over.
    s.update([LEFT], [A])
    s.update([LEFT], [A])
    assert [s.update([LEFT], [p])[0].label for p in (B, B, A, B, B)] == [1, 1, 1, 1, 1]


def test_off_follows_every_frame() -> None:
    s = TemporalSmoother(mode="off")
    s.update([LEFT], [A])
    out = s.update([LEFT], [B])[0]
    assert out.label == 1 and out.proba == pytest.approx(B)


def test_two_faces_keep_separate_histories_even_when_order_changes() -> None:
    s = TemporalSmoother(mode="ema", alpha=0.5)
    first = s.update([LEFT, RIGHT], [A, B])
    swapped = s.update([RIGHT, LEFT], [B, A])  # same faces, listed the other way round
    assert swapped[0].track_id == first[1].track_id and swapped[1].track_id == first[0].track_id
    assert swapped[0].label == 1 and swapped[1].label == 0


def test_a_track_survives_short_dropouts_and_expires_after_long_ones() -> None:
    s = TemporalSmoother(mode="ema", max_missed=2)
    tid = s.update([LEFT], [A])[0].track_id
    s.update([], [])
    assert s.update([LEFT], [A])[0].track_id == tid
    for _ in range(3):
        s.update([], [])
    assert s.update([LEFT], [A])[0].track_id != tid


def test_unknown_mode_is_refused_with_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="ema"):
        TemporalSmoother(mode="median")  # type: ignore[arg-type]
