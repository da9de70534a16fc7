"""Widgets and wiring of the Live page: model choice, the webrtc stream, the results panel and snapshots.

The frame callback is `FrameProcessor.process_frame`, running in streamlit-webrtc's worker thread; it never touches
st.*. The page reads the processor's latest result (handed over under a lock) from a fragment that reruns twice a
second while the page is open.
"""

from __future__ import annotations

import threading
from typing import Any

import streamlit as st
import streamlit_webrtc

from core.art import artwork_svg
from core.inference import ExpressionModel
from core.live import SMOOTHING_MODES, FrameProcessor
from core.live.figures import probability_figure
from core.live.snapshot import DEFAULT_SNAPSHOT, save_snapshot
from core.schema import EMOTIONS
from core.settings import Settings
from core.store import Store
from ui.common import run_safely

PROCESSOR_KEY = "live_processor"
SMOOTHING_LABELS = {"off": "Off", "ema": "Moving average", "hysteresis": "Hysteresis"}
SNAPSHOT_LABELS = {
    "pool": "Send to the pool",
    "human": "Pick a label",
    "prediction": "Pool, with the prediction as a suggestion",
}
# A result older than this means no frames are arriving (stream stopped or stalled).
STALE_S = 2.0


def options_ui() -> tuple[str, bool]:
    smoothing = st.segmented_control(
        "Temporal smoothing",
        list(SMOOTHING_MODES),
        default="ema",
        format_func=SMOOTHING_LABELS.get,
        key="live_smoothing",
        help="Moving average blends the last frames' probabilities; hysteresis keeps a label until another leads "
        "for a few frames in a row.",
    )
    mesh = st.toggle("Draw the landmark mesh", key="live_mesh")
    return str(smoothing or "off"), bool(mesh)


def session_processor(model: ExpressionModel, settings: Settings, smoothing: str, mesh: bool) -> FrameProcessor:
    """This browser session's processor (its own VIDEO-mode landmarker), updated to the current choices."""
    processor: FrameProcessor | None = st.session_state.get(PROCESSOR_KEY)
    fresh = processor is None
    if processor is None:
        processor = FrameProcessor(model, settings=settings, smoothing=smoothing)  # type: ignore[arg-type]
        st.session_state[PROCESSOR_KEY] = processor
    if processor.model is not model:
        processor.set_model(model)
        fresh = True
    if fresh:
        # Warm the landmarker and the model while the user reaches for START, so the first frame is not slow.
        # A plain thread: it never calls st.*, so it needs no ScriptRunContext.
        threading.Thread(target=processor.warm_up, name="live-warm-up", daemon=True).start()
    if processor.smoothing != smoothing:
        processor.set_smoothing(smoothing)  # type: ignore[arg-type]
    processor.draw_mesh = mesh
    return processor


def stream(processor: FrameProcessor, settings: Settings) -> Any:
    # Looked up on the module at call time so that AppTest can swap in a stand-in (it cannot render the component).
    return streamlit_webrtc.webrtc_streamer(
        key="live",
        mode=streamlit_webrtc.WebRtcMode.SENDRECV,
        rtc_configuration={"iceServers": settings.ice_servers},
        # aiortc hands the callback one received frame per frame it encodes back: at 30 fps a busy CPU falls
        # behind and received frames wait upstream of the callback. 15 fps halves the decode/encode work and is
        # still smooth for expressions.
        media_stream_constraints={
            "video": {"width": 640, "height": 480, "frameRate": {"ideal": 15, "max": 15}},
            "audio": False,
        },
        video_frame_callback=processor.process_frame,
        async_processing=True,
    )


def show_result(processor: FrameProcessor) -> None:
    """The prediction text, artwork, probability chart and speed figures of the latest processed frame."""
    result = processor.latest()
    if result is None:
        st.info("Press **START** under the video and allow the camera. Predictions appear here.")
        return
    if result.error:
        st.warning(f"The last frame could not be analysed: {result.error}")
    face = result.main_face
    if face is None:
        st.markdown("#### No face in view")
    else:
        # The same smoothed result and text as the box label on the video.
        st.markdown(f"#### Detected: {face.label}")
        if face.emotion in EMOTIONS:
            st.image(artwork_svg(face.emotion), width=180)
        st.plotly_chart(probability_figure(face.probabilities, height=240), key="live_proba")
    if len(result.faces) > 1:
        st.caption(f"{len(result.faces)} faces: " + ", ".join(f"{f.emotion} {f.confidence:.0%}" for f in result.faces))
    note = getattr(processor.running, "live_note", "")
    if note:  # the model offers a cheaper variant for video: say which one runs
        st.caption(note)
    cols = st.columns(2)
    cols[0].metric("Processing FPS", f"{result.stats.fps:.1f}")
    cols[1].metric("Latency per frame", f"{result.stats.latency_ms:.1f} ms")
    if processor.age_s(result) > STALE_S:
        st.caption("No new frames: the stream is stopped.")


def snapshot_ui(store: Store, processor: FrameProcessor) -> None:
    how = st.radio(
        "Snapshot",
        list(SNAPSHOT_LABELS),
        index=list(SNAPSHOT_LABELS).index(DEFAULT_SNAPSHOT),
        format_func=SNAPSHOT_LABELS.get,
        key="snap_how",
        horizontal=True,
        help="Only a label you pick makes the frame training data; the pool is reviewed in Active learning.",
    )
    label = st.selectbox("Label", EMOTIONS, key="snap_label") if how == "human" else None
    if not st.button("Save snapshot", key="snap_save", icon=":material/photo_camera:"):
        return
    rgb = processor.current_frame_rgb()
    if rgb is None:
        st.warning("No camera frame yet: press START first.")
        return
    added = run_safely(
        lambda: save_snapshot(store, rgb, how=how, result=processor.latest(), label=label), what="Saving the snapshot"
    )
    if added is not None:
        note = "" if added.created else " (the same frame was already stored)"
        where = "the training set" if how == "human" else "the active-learning pool, for review"
        st.success(f"Saved the frame as image #{added.image_id} (source webcam) in {where}{note}.")
