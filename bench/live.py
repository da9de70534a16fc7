"""Live frame path vs bare MediaPipe on the same 640x480 frames, in the same run.

Project path per frame: av.VideoFrame (yuv420p, as browsers send) -> RGB -> FaceLandmarker VIDEO mode -> model
(features inside) -> smoothing -> overlay -> av.VideoFrame. Baseline: `FaceLandmarker.detect_for_video` alone on
the already-decoded RGB frame. The two run interleaved frame by frame so that load from other processes hits both.

    python bench/live.py [--frames 300] [--model ID] [--mesh]

The default model is the active one, else the shipped starter (landmarks + face-api's network: one onnxruntime call
per frame on the 112x112 crops of each face). A model may offer a cheaper `live_variant` (the starter: its vote
without the mirror image); the frame path runs it, as the Live page does, and says so. Goal: at most 1.5x the bare
landmarker, >= 25 fps.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import av
import cv2
import mediapipe as mp
import numpy as np
from mediapipe.tasks.python import BaseOptions, vision

from core.inference import ExpressionModel, top_prediction
from core.landmarks.model_file import load_verified
from core.live import FrameProcessor
from core.models.registry import ModelCard, Registry
from core.settings import get_settings

W, H = 640, 480


def make_frames(n: int) -> list[np.ndarray]:
    """The astronaut photo on a 640x480 canvas, drifting a few pixels per frame like a person in front of a camera."""
    from skimage import data

    photo = data.astronaut()
    scaled = cv2.resize(photo, (H, H), interpolation=cv2.INTER_AREA)
    frames = []
    for i in range(n):
        canvas = np.full((H, W, 3), 96, np.uint8)
        dx = int(60 + 40 * np.sin(i / 15))
        canvas[:, dx : dx + H] = scaled
        frames.append(canvas)
    return frames


class _BlendshapeLogReg:
    """Fallback when no model is registered: logistic regression on blendshapes of the frames themselves."""

    needs_landmarks = True
    needs_pixels = False
    whole_image_fallback = False

    def __init__(self, frames: list[np.ndarray]) -> None:
        from sklearn.linear_model import LogisticRegression

        from core.landmarks.extractor import LandmarkExtractor

        with LandmarkExtractor(mode="image") as ex:
            x = np.stack([f.blendshapes for img in frames[:20] for f in ex.detect(img)[:1]]).astype(np.float64)
        y = np.arange(len(x)) % 2
        self.clf = LogisticRegression(max_iter=300).fit(x + y[:, None] * 0.05, y)
        self.card = ModelCard(id="bench-logreg", kind="landmark", name="logreg", classes=["happy", "neutral"])

    def predict_faces(self, rgb, faces):  # type: ignore[no-untyped-def]
        proba = self.clf.predict_proba(np.stack([f.blendshapes for f in faces]).astype(np.float64))
        return [top_prediction(f.bbox, self.card.classes, p, f.landmarks) for f, p in zip(faces, proba, strict=True)]


def load_model(model_id: str | None, frames: list[np.ndarray]) -> ExpressionModel:
    registry = Registry(get_settings().models_dir)
    chosen = model_id or registry.active_id()
    if chosen:
        try:
            return registry.load(chosen)  # type: ignore[no-any-return]
        except Exception as exc:
            print(f"could not load model {chosen} ({exc}); using a fitted blendshape logistic regression")
    else:
        print("no model in the registry; using a fitted blendshape logistic regression")
    return _BlendshapeLogReg(frames)


def bare_landmarker() -> vision.FaceLandmarker:
    s = get_settings()
    options = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_buffer=load_verified(s.face_landmarker_path, s.face_landmarker_sha256)),
        running_mode=vision.RunningMode.VIDEO,
        num_faces=4,
        output_face_blendshapes=True,
        output_facial_transformation_matrixes=True,
    )
    return vision.FaceLandmarker.create_from_options(options)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--model", default=None, help="registry model id (default: the active model)")
    parser.add_argument("--mesh", action="store_true", help="draw the landmark mesh too")
    args = parser.parse_args()

    frames = make_frames(args.frames + args.warmup)
    video = [av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuv420p") for f in frames]
    # The baseline gets the frames already decoded: everything beyond detect_for_video counts against the project.
    decoded = [v.to_ndarray(format="rgb24") for v in video]
    model = load_model(args.model, frames)
    bare = bare_landmarker()
    project_ms: list[float] = []
    bare_ms: list[float] = []
    faces_found = 0
    with FrameProcessor(model, draw_mesh=args.mesh) as proc:
        for i, (vf, rgb) in enumerate(zip(video, decoded, strict=True)):
            ts = 33 * (i + 1)
            t0 = time.perf_counter()
            bare.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), ts)
            t1 = time.perf_counter()
            proc.process_frame(vf)
            t2 = time.perf_counter()
            if i >= args.warmup:
                bare_ms.append(1000 * (t1 - t0))
                project_ms.append(1000 * (t2 - t1))
                result = proc.latest()
                faces_found += bool(result and result.faces)
    bare.close()
    running = proc.running  # the model's cheaper live variant when it offers one

    # Where the difference goes: the model's own predict_faces (features + classifier) on the same frames' faces.
    from core.landmarks.extractor import LandmarkExtractor

    model_ms: list[float] = []
    with LandmarkExtractor(mode="image") as ex:
        sample = [(rgb, ex.detect(rgb)) for rgb in decoded[args.warmup :: max(1, args.frames // 30)]]
    for rgb, faces in sample:
        if faces or not model.needs_landmarks:
            t0 = time.perf_counter()
            running.predict_faces(rgb, faces)
            model_ms.append(1000 * (time.perf_counter() - t0))

    def row(name: str, ms: list[float]) -> str:
        mean, med = statistics.fmean(ms), statistics.median(ms)
        return f"{name:<34} mean {mean:6.2f} ms  median {med:6.2f} ms  ({1000 / mean:5.1f} fps)"

    print(f"{len(project_ms)} frames {W}x{H}, model {model.card.id} ({model.card.kind}), mesh={args.mesh}")
    note = getattr(running, "live_note", "")
    print(f"live variant: {note}" if note else "live runs the model itself (no cheaper variant)")
    print(f"faces found in {faces_found}/{len(project_ms)} frames")
    print(row("bare detect_for_video", bare_ms))
    print(row("project frame path", project_ms))
    ratio_mean = statistics.fmean(project_ms) / statistics.fmean(bare_ms)
    ratio_median = statistics.median(project_ms) / statistics.median(bare_ms)
    fps = 1000 / statistics.fmean(project_ms)
    print(f"ratio project/bare: {ratio_mean:.3f} (mean), {ratio_median:.3f} (median)   goal <= 1.5")
    print(f"project fps: {fps:.1f}   goal >= 25")
    if model_ms:
        model_mean = statistics.fmean(model_ms)
        rest = statistics.fmean(project_ms) - model_mean
        print(
            f"of the project path: model.predict_faces {model_mean:.2f} ms (crop, network, features, classifier); "
            f"without it the "
            f"ratio would be {rest / statistics.fmean(bare_ms):.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
