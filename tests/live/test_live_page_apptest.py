"""AppTest of the Live page. AppTest cannot render `webrtc_streamer`, so only that call is swapped for a recorder;
the recorded frame callback is then fed real frames, as streamlit-webrtc's worker would (the browser test covers
the real component)."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import av
import numpy as np
import pytest
import streamlit_webrtc
from streamlit.testing.v1 import AppTest

from core.live.model_choices import FOLLOW_ACTIVE_LABEL
from core.models.registry import STARTER_ID, Registry
from core.settings import PROJECT_ROOT, Settings
from core.store import Store
from tests.live.frames import frame_640
from tests.live.real_model import save_registry_model

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "6_Live.py")


@pytest.fixture
def streamer_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def record(**kwargs: Any) -> SimpleNamespace:
        calls.append(kwargs)
        return SimpleNamespace(state=SimpleNamespace(playing=False))

    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", record)
    return calls


@pytest.fixture
def with_model(app_env: Settings, face_variants: list[np.ndarray]) -> Settings:
    save_registry_model(app_env.models_dir, face_variants[:6], app_env)
    return app_env


def test_without_a_model_the_page_explains(app_env: Settings, streamer_calls: list[dict[str, Any]]) -> None:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert any("No expression model" in i.value for i in at.info)
    assert streamer_calls == []


def test_stream_callback_results_reach_the_page_and_snapshots_are_saved(
    with_model: Settings, streamer_calls: list[dict[str, Any]], astronaut_rgb: np.ndarray
) -> None:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    assert any("Press **START**" in i.value for i in at.info)
    kwargs = streamer_calls[-1]
    assert kwargs["rtc_configuration"] == {"iceServers": []}  # localhost works without STUN
    assert kwargs["media_stream_constraints"]["audio"] is False

    # streamlit-webrtc's worker thread would call this for every camera frame.
    callback = kwargs["video_frame_callback"]
    frame = av.VideoFrame.from_ndarray(frame_640(astronaut_rgb), format="rgb24").reformat(format="yuv420p")
    for _ in range(3):
        out = callback(frame)
    assert isinstance(out, av.VideoFrame)

    at.run()
    assert not at.exception
    assert any(m.value.startswith("#### Detected: happy ") and m.value.endswith("%") for m in at.markdown)
    metrics = {m.label: m.value for m in at.metric}
    assert set(metrics) == {"Processing FPS", "Latency per frame"} and metrics["Latency per frame"].endswith(" ms")
    # Same session, same processor: the callback is still the session's own.
    assert streamer_calls[-1]["video_frame_callback"].__self__ is callback.__self__

    assert at.radio(key="snap_how").value == "pool"  # the default: a frame is never training data by itself
    at.button(key="snap_save").click().run()
    assert not at.exception
    assert any("Saved the frame as image" in s.value and "pool" in s.value for s in at.success)

    def feed(rgb: np.ndarray) -> None:
        callback(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(format="yuv420p"))

    feed(frame_640(astronaut_rgb)[:, ::-1])
    at.radio(key="snap_how").set_value("human").run()
    at.selectbox(key="snap_label").set_value("surprise").run()
    at.button(key="snap_save").click().run()
    feed(np.clip(frame_640(astronaut_rgb).astype(np.int16) + 12, 0, 255).astype(np.uint8))  # new bytes, same face
    at.radio(key="snap_how").set_value("prediction").run()
    at.button(key="snap_save").click().run()
    assert not at.exception

    assert not at.error, [e.value for e in at.error]
    records = Store(with_model).list_images()
    assert [(r.source, r.emotion, r.label_source, r.status) for r in records] == [
        ("webcam", None, None, "pool"),
        ("webcam", "surprise", "human", "train"),
        ("webcam", records[2].attributes["predicted"], "model", "pool"),  # a suggestion, left for review
    ]
    assert records[1].attributes["predicted"] == "happy"  # the model's guess is kept beside the human label


def test_options_reach_the_processor(with_model: Settings, streamer_calls: list[dict[str, Any]]) -> None:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.segmented_control(key="live_smoothing").set_value("hysteresis").run()
    at.toggle(key="live_mesh").set_value(True).run()
    assert not at.exception
    processor = streamer_calls[-1]["video_frame_callback"].__self__
    assert processor.smoothing == "hysteresis" and processor.draw_mesh is True


def _follow_script() -> None:
    import streamlit as st

    from core.live import FrameProcessor
    from ui.common import get_registry, settings
    from ui.model_select import _load, follow_active

    if "proc" not in st.session_state:
        registry = get_registry()
        model = _load(str(settings().models_dir), str(registry.active_id()))
        st.session_state["proc"] = FrameProcessor(model, settings=settings())
    follow_active(st.session_state["proc"])


def test_the_live_page_follows_an_activation(
    with_model: Settings, streamer_calls: list[dict[str, Any]], astronaut_rgb: np.ndarray
) -> None:
    shutil.copytree(PROJECT_ROOT / "models" / STARTER_ID, with_model.models_dir / STARTER_ID)
    registry = Registry(with_model.models_dir)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    assert at.selectbox(key="live_model").value == FOLLOW_ACTIVE_LABEL  # the default choice
    processor = streamer_calls[-1]["video_frame_callback"].__self__
    assert processor.model.card.id == "test-landmark-smile"
    registry.activate(STARTER_ID)
    at.run()
    assert not at.exception and processor.model.card.id == STARTER_ID

    # The fragment that runs every two seconds while the stream plays swaps the model of the running processor.
    follow = AppTest.from_function(_follow_script, default_timeout=60).run()
    assert not follow.exception, follow.exception
    running = follow.session_state["proc"]
    try:
        assert running.model.card.id == STARTER_ID
        follow.run()
        assert running.model.card.id == STARTER_ID  # nothing activated: nothing loaded
        registry.activate("test-landmark-smile")
        follow.run()
        assert not follow.exception and running.model.card.id == "test-landmark-smile"
        frame = av.VideoFrame.from_ndarray(frame_640(astronaut_rgb), format="rgb24").reformat(format="yuv420p")
        running.process_frame(frame)
        latest = running.latest()
        assert latest is not None and latest.model_id == "test-landmark-smile"
    finally:
        # Closed here, not by the garbage collector: a VIDEO-mode landmarker collected later, in the middle of
        # another test, can deadlock in MediaPipe's close().
        running.close()
        processor.close()
