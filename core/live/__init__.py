"""Live detection: the per-frame path behind the webcam page (landmarks, model, smoothing, overlay, stats).

Nothing here imports streamlit; `ui/live_page.py` wires a `FrameProcessor` into `webrtc_streamer`.
"""

from core.live.processor import FrameProcessor, FrameResult, LiveFace
from core.live.smoothing import SMOOTHING_MODES

__all__ = ["SMOOTHING_MODES", "FrameProcessor", "FrameResult", "LiveFace"]
