"""The live frame path on real av.VideoFrames with real MediaPipe (VIDEO mode) and a real fitted model."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import av
import numpy as np
import pytest

from core.live import FrameProcessor
from core.settings import Settings
from tests.live.frames import HEIGHT, WIDTH, frame_640, two_faces_640
from tests.live.real_model import BlendshapeModel, shared_model


@pytest.fixture(scope="module")
def model(face_variants: list[np.ndarray]) -> BlendshapeModel:
    return shared_model(face_variants)


@pytest.fixture
def processor(model: BlendshapeModel, settings: Settings) -> Iterator[FrameProcessor]:
    with FrameProcessor(model, settings=settings) as proc:
        yield proc


def video_frame(rgb: np.ndarray) -> av.VideoFrame:
    # Browsers send yuv420p; going through it makes the test frame look like a real WebRTC frame.
    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")


def test_callback_annotates_face_and_publishes_result(processor: FrameProcessor, astronaut_rgb: np.ndarray) -> None:
    frame = video_frame(frame_640(astronaut_rgb))
    frame.pts = 1234
    out = processor.process_frame(frame)
    assert isinstance(out, av.VideoFrame)
    assert (out.width, out.height) == (WIDTH, HEIGHT)
    assert out.pts == 1234  # the stream keeps its timing

    result = processor.latest()
    assert result is not None and result.error is None
    assert len(result.faces) == 1
    face = result.faces[0]
    assert face.emotion in ("happy", "neutral")
    assert face.confidence == pytest.approx(max(face.probabilities.values()))
    assert sum(face.probabilities.values()) == pytest.approx(1.0)
    x0, y0, x1, y1 = face.box
    assert 0.3 < x0 < x1 < 0.6 and 0.05 < y0 < y1 < 0.45  # the face sits in the upper middle of the frame
    assert result.model_id == "test-blendshape-logreg"
    assert result.stats.frames == 1 and result.stats.last_latency_ms > 0

    # The overlay changed pixels on the box edge, not the input frame.
    before, after = frame.to_ndarray(format="rgb24"), out.to_ndarray(format="rgb24")
    ys, xs = int(y0 * HEIGHT), slice(int(x0 * WIDTH), int(x1 * WIDTH))
    assert np.abs(after[ys, xs].astype(int) - before[ys, xs].astype(int)).mean() > 20
    snap = processor.current_frame_rgb()
    assert snap is not None and np.array_equal(snap, before)


def test_the_smiling_astronaut_is_happy(processor: FrameProcessor, astronaut_rgb: np.ndarray) -> None:
    # The fixture model learnt "smile above median -> happy"; the original photo smiles broadly.
    processor.process_frame(video_frame(frame_640(astronaut_rgb)))
    result = processor.latest()
    assert result is not None and result.faces[0].emotion == "happy"


def test_frames_with_a_frozen_clock_still_get_increasing_timestamps(
    model: BlendshapeModel, settings: Settings, astronaut_rgb: np.ndarray
) -> None:
    frame = video_frame(frame_640(astronaut_rgb))
    with FrameProcessor(model, settings=settings, clock=lambda: 5.0) as proc:
        for _ in range(3):
            proc.process_frame(frame)
        result = proc.latest()
    assert result is not None and result.error is None and len(result.faces) == 1
    assert result.stats.frames == 3


def test_two_faces_get_two_tracks_that_persist(processor: FrameProcessor, astronaut_rgb: np.ndarray) -> None:
    frame = video_frame(two_faces_640(astronaut_rgb))
    ids = []
    for _ in range(3):
        processor.process_frame(frame)
        result = processor.latest()
        assert result is not None and len(result.faces) == 2
        ids.append(sorted(f.track_id for f in result.faces))
    assert len(set(ids[0])) == 2
    assert ids[0] == ids[1] == ids[2]  # each face keeps its track (and its smoothing history)


def test_no_face_gives_an_empty_result_and_the_frame_unchanged(processor: FrameProcessor) -> None:
    blank = np.full((HEIGHT, WIDTH, 3), 128, np.uint8)
    frame = video_frame(blank)
    out = processor.process_frame(frame)
    result = processor.latest()
    assert result is not None and result.faces == () and result.error is None
    assert np.array_equal(out.to_ndarray(format="rgb24"), frame.to_ndarray(format="rgb24"))
    assert result.main_face is None


def test_mesh_overlay_draws_the_landmarks(
    model: BlendshapeModel, settings: Settings, astronaut_rgb: np.ndarray
) -> None:
    base = frame_640(astronaut_rgb)
    drawn = {}
    for mesh in (False, True):
        with FrameProcessor(model, settings=settings, draw_mesh=mesh) as proc:
            img, _ = proc.process(base.copy())
            drawn[mesh] = int((img != base).any(axis=2).sum())
    assert drawn[True] > drawn[False] + 300  # hundreds of mesh points on top of the box and label


def test_bgr_input_is_detected_and_drawn_in_bgr(processor: FrameProcessor, astronaut_rgb: np.ndarray) -> None:
    bgr = np.ascontiguousarray(frame_640(astronaut_rgb)[..., ::-1])
    _, result = processor.process(bgr, bgr=True)
    assert len(result.faces) == 1 and result.faces[0].emotion == "happy"


def test_a_failing_model_reports_the_error_and_passes_the_frame(
    model: BlendshapeModel, settings: Settings, astronaut_rgb: np.ndarray
) -> None:
    class Broken(BlendshapeModel):
        def predict_faces(self, rgb, faces):  # type: ignore[no-untyped-def]
            raise RuntimeError("model exploded")

    with FrameProcessor(Broken(model.clf), settings=settings) as proc:
        out = proc.process_frame(video_frame(frame_640(astronaut_rgb)))
        result = proc.latest()
    assert isinstance(out, av.VideoFrame)
    assert result is not None and result.faces == () and "model exploded" in (result.error or "")


def test_switching_smoothing_and_model_between_frames(
    processor: FrameProcessor, model: BlendshapeModel, astronaut_rgb: np.ndarray
) -> None:
    frame = video_frame(frame_640(astronaut_rgb))
    processor.process_frame(frame)
    processor.set_smoothing("hysteresis")
    processor.set_model(BlendshapeModel(model.clf, model_id="second"))
    processor.process_frame(frame)
    result = processor.latest()
    assert processor.smoothing == "hysteresis"
    assert result is not None and result.model_id == "second" and len(result.faces) == 1


def test_a_frame_arriving_during_the_warm_up_is_not_queued(
    model: BlendshapeModel, settings: Settings, astronaut_rgb: np.ndarray
) -> None:
    frame = video_frame(frame_640(astronaut_rgb))
    with FrameProcessor(model, settings=settings) as proc:
        started, release = threading.Event(), threading.Event()
        original = proc._recognizer.predict

        def slow_predict(rgb, *, timestamp_ms=None):  # type: ignore[no-untyped-def]
            started.set()
            release.wait(10)
            return original(rgb, timestamp_ms=timestamp_ms)

        proc._recognizer.predict = slow_predict  # type: ignore[method-assign]
        warm = threading.Thread(target=proc.warm_up, args=(frame_640(astronaut_rgb),))
        warm.start()
        assert started.wait(10)
        out = proc.process_frame(frame)  # the recognizer is busy: back at once, unannotated
        # Back while the warm-up is still inside predict (it leaves only on `release`, or after 10 s): no waiting.
        assert warm.is_alive() and out is frame and proc.skipped == 1
        release.set()
        warm.join(10)
        proc._recognizer.predict = original  # type: ignore[method-assign]
        proc.process_frame(frame)
        result = proc.latest()
    assert result is not None and len(result.faces) == 1 and result.faces[0].emotion == "happy"


def test_warm_up_runs_the_landmarker_and_the_model(model: BlendshapeModel, settings: Settings) -> None:
    calls = []

    class Counting(BlendshapeModel):
        def predict_faces(self, rgb, faces):  # type: ignore[no-untyped-def]
            calls.append(len(faces))
            return super().predict_faces(rgb, faces)

    with FrameProcessor(Counting(model.clf), settings=settings) as proc:
        assert proc.warm_up() > 0  # a grey frame: no face, so a made-up one warms the model
    assert calls == [1]


def test_the_box_label_and_the_panel_show_the_same_smoothed_result(
    processor: FrameProcessor, astronaut_rgb: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.live.processor as module

    drawn: list[str] = []
    real_draw = module.draw_face
    monkeypatch.setattr(
        module,
        "draw_face",
        lambda image, box, label, *a, **k: (drawn.append(label), real_draw(image, box, label, *a, **k)),
    )
    for shift in (0, 8, 16):  # a few frames, so that smoothing has history
        processor.process_frame(video_frame(np.roll(frame_640(astronaut_rgb), shift, axis=1)))
    result = processor.latest()
    assert result is not None and result.main_face is not None
    face = result.main_face
    assert drawn[-1] == face.label  # the video's box label is the panel's text ("Detected: <label>")
    assert face.confidence == pytest.approx(face.probabilities[face.emotion])  # both from the smoothed vector
