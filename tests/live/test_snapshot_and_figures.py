"""Snapshots into the real SQLite store, the probability figure, the artwork files and the model choices."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from core.art import artwork_path, artwork_svg
from core.auth import PermissionDenied, Role, User, acting_as
from core.errors import StudioError, UnknownLabel
from core.imaging import encode_png
from core.live.figures import probability_figure
from core.live.model_choices import FOLLOW_ACTIVE_LABEL, model_choices
from core.live.processor import FrameResult, LiveFace
from core.live.snapshot import save_snapshot
from core.live.stats import FrameStats, StatsSnapshot
from core.models.registry import ModelCard, Registry
from core.schema import EMOTIONS
from core.store import Store
from core.training.data import from_store


def result_with(emotion: str | None) -> FrameResult:
    faces = () if emotion is None else (LiveFace(0, (0.3, 0.1, 0.6, 0.5), emotion, 0.8, {emotion: 0.8, "sad": 0.2}),)
    return FrameResult(faces, StatsSnapshot(30.0, 12.0, 12.0, 10), "model-x", 1000)


def test_a_snapshot_goes_to_the_pool_by_default(store: Store, astronaut_rgb: np.ndarray) -> None:
    with acting_as(User("lena@example.org", Role.LABELER)):
        added = save_snapshot(store, astronaut_rgb, result=result_with("happy"))
    record = store.get(added.image_id)
    assert record is not None
    assert (record.source, record.emotion, record.label_source, record.status) == ("webcam", None, None, "pool")
    expected = {"predicted": "happy", "confidence": 0.8, "model_id": "model-x", "saved_by": "lena@example.org"}
    assert record.attributes == expected
    with acting_as(User("vera@example.org", Role.VIEWER)), pytest.raises(PermissionDenied, match="labeler role"):
        save_snapshot(store, astronaut_rgb[:200].copy(), how="pool")
    assert store.absolute_path(record).is_file()


def test_a_model_label_never_enters_training_without_a_person(store: Store, astronaut_rgb: np.ndarray) -> None:
    suggested = save_snapshot(store, astronaut_rgb, how="prediction", result=result_with("happy"))
    record = store.get(suggested.image_id)
    assert record is not None
    assert (record.emotion, record.label_source, record.status) == ("happy", "model", "pool")
    assert len(from_store(store)) == 0  # not training data, nor held-out data
    other = astronaut_rgb[::-1].copy()
    for status in ("train", "test"):
        with pytest.raises(StudioError, match="not training data"):
            store.add_image(encode_png(other), emotion="happy", label_source="model", status=status)
    # Without a status, a model's label lands in the pool too.
    defaulted = store.add_image(encode_png(other), emotion="happy", label_source="model")
    rec = store.get(defaulted.image_id)
    assert rec is not None and rec.status == "pool"
    assert store.count() == 2 and len(from_store(store)) == 0


def test_snapshot_with_a_human_label_and_to_the_pool(store: Store, astronaut_rgb: np.ndarray) -> None:
    human = save_snapshot(store, astronaut_rgb, how="human", label="Surprised", result=result_with("happy"))
    rec = store.get(human.image_id)
    assert rec is not None and (rec.emotion, rec.label_source) == ("surprise", "human")
    pooled = save_snapshot(store, astronaut_rgb[::-1].copy(), how="pool", result=result_with("sad"))
    rec = store.get(pooled.image_id)
    assert rec is not None and (rec.emotion, rec.status, rec.source) == (None, "pool", "webcam")
    assert rec.attributes["predicted"] == "sad"


def test_snapshot_refusals_are_clear(store: Store, astronaut_rgb: np.ndarray) -> None:
    with pytest.raises(StudioError, match="no face"):
        save_snapshot(store, astronaut_rgb, how="prediction", result=result_with(None))
    with pytest.raises(StudioError, match="pick a label"):
        save_snapshot(store, astronaut_rgb, how="human", label=None)
    with pytest.raises(UnknownLabel):
        save_snapshot(store, astronaut_rgb, how="human", label="bored")
    assert store.count() == 0


def test_probability_figure_sorted_with_percent_labels() -> None:
    fig = probability_figure({"happy": 0.7, "sad": 0.1, "neutral": 0.2})
    bar = fig.data[0]
    assert list(bar.y) == ["sad", "neutral", "happy"]  # plotly draws the last bar on top
    assert list(bar.x) == [0.1, 0.2, 0.7]
    assert list(bar.text) == ["10%", "20%", "70%"]
    assert bar.orientation == "h"


def test_every_emotion_has_valid_svg_artwork() -> None:
    assert all(artwork_path(e).is_file() for e in EMOTIONS)
    for emotion in EMOTIONS:
        root = ET.fromstring(artwork_svg(emotion))
        assert root.tag.endswith("svg") and root.get("viewBox") == "0 0 240 240"
        assert emotion in artwork_svg(emotion)  # titled for screen readers
    assert len({artwork_svg(e) for e in EMOTIONS}) == len(EMOTIONS)


@pytest.mark.parametrize("bad", ["bored", "../settings", "happy.svg", ""])
def test_artwork_refuses_unknown_names(bad: str) -> None:
    with pytest.raises(UnknownLabel):
        artwork_path(bad)


def test_frame_stats_window() -> None:
    stats = FrameStats(window=5)
    for i in range(10):
        stats.add(i * 0.04, 0.010 + 0.001 * i)
    snap = stats.snapshot()
    assert snap.fps == pytest.approx(25.0)
    assert snap.latency_ms == pytest.approx(17.0)  # mean of the last five: 15..19 ms
    assert snap.last_latency_ms == pytest.approx(19.0) and snap.frames == 10


def test_model_choices_put_the_active_model_first(tmp_path) -> None:  # type: ignore[no-untyped-def]
    registry = Registry(tmp_path)
    for model_id, kind in (("starter", "landmark"), ("resnet-a", "resnet"), ("landmark-b", "landmark")):
        card = ModelCard(
            id=model_id,
            kind=kind,
            name="svm",
            classes=list(EMOTIONS),
            metrics={"accuracy": 0.5},
            library_versions={"python": "3.11"},
        )
        registry.save(card, lambda p: p.write_bytes(b"x"))
    assert model_choices(registry)[0].card.id == "starter" and model_choices(registry)[0].is_starter
    registry.activate("resnet-a")
    follow, *choices = model_choices(registry)
    assert follow.follows_active and follow.card.id == "resnet-a" and follow.label == FOLLOW_ACTIVE_LABEL
    assert not any(c.follows_active for c in choices) and len(choices) == 3
    assert choices[0].card.id == "resnet-a" and choices[0].label.startswith("✓ ") and choices[0].is_active
    assert "50%" in choices[0].details and "resnet-a" in choices[0].details
    labels = [c.label for c in choices]
    assert len(set(labels)) == len(labels)  # same name, same minute: still told apart
    assert all(len(label) <= 30 for label in [follow.label, *labels])  # fits the sidebar's select box
    assert {c.card.kind for c in choices} == {"landmark", "resnet"}
