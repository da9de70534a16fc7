"""Figures of the torch sections, checked offline on fig.data."""

from __future__ import annotations

from core.viz.curves import DETECTOR_LOSSES, DETECTOR_METRICS, comparison_chart, learning_curves


def test_learning_curves_skip_missing_values() -> None:
    history = [
        {"epoch": 1, "train_loss": 3.0, "val_loss": None, "map50": None, "emotion_accuracy": None, "face_recall": None},
        {"epoch": 2, "train_loss": 2.0, "val_loss": 2.5, "map50": 0.4, "emotion_accuracy": 0.5, "face_recall": 0.9},
    ]
    fig = learning_curves(history, losses=DETECTOR_LOSSES, metrics=DETECTOR_METRICS)
    traces = {t.name: t for t in fig.data}
    assert list(traces["train loss"].x) == [1, 2] and list(traces["train loss"].y) == [3.0, 2.0]
    assert list(traces["val loss"].x) == [2]
    assert list(traces["map50"].y) == [0.4]
    assert traces["map50"].xaxis == "x2"  # metrics on the right-hand plot


def test_comparison_chart_has_one_bar_group_per_metric() -> None:
    scores = [
        {"name": "detector", "emotion_accuracy": 0.5, "face_recall": 0.9, "ms_per_image": 4.0},
        {"name": "mediapipe+landmark", "emotion_accuracy": 0.6, "face_recall": 0.7, "ms_per_image": 20.0},
    ]
    fig = comparison_chart(scores)
    assert [t.name for t in fig.data] == ["emotion accuracy (matched faces)", "face recall"]
    assert list(fig.data[1].y) == [0.9, 0.7]
    assert list(fig.data[0].customdata) == [4.0, 20.0]
