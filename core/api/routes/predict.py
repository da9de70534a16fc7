"""Expression prediction from an uploaded image or a base64 browser frame."""

from __future__ import annotations

import logging
import threading
import time
from typing import Annotated

from fastapi import APIRouter, Depends, File, UploadFile

from core.api.deps import DecodeSlotsDep, ServiceDep, SettingsDep
from core.api.images import decode_base64_image
from core.api.keyauth import require_api_key
from core.api.schemas import ErrorOut, FaceOut, PredictOut, StreamFrameIn
from core.api.service import PredictionService
from core.errors import ImageNotReadable
from core.imaging import decode_reduced
from core.schema import EMOTIONS
from core.settings import Settings

log = logging.getLogger("core.api.predict")
router = APIRouter(prefix="/api", tags=["predict"], dependencies=[Depends(require_api_key)])

_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorOut, "description": "Not an image, corrupt, truncated or not base64."},
    401: {"model": ErrorOut, "description": "No valid API key (when the server requires keys)."},
    403: {
        "model": ErrorOut,
        "description": "Keys are not required, but the request came from another machine or through a proxy.",
    },
    413: {"model": ErrorOut, "description": "Body over API_MAX_UPLOAD_MB, or pixels over MAX_IMAGE_PIXELS."},
    422: {"model": ErrorOut, "description": "A required field is missing or malformed."},
    429: {
        "model": ErrorOut,
        "description": "Over API_RATE_PER_MIN requests in a minute for this key, or too many wrong keys from this "
        "client; Retry-After says when to try again.",
        "headers": {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}},
    },
    503: {"model": ErrorOut, "description": "No model is loaded."},
}


def _predict(
    service: PredictionService, data: bytes, settings: Settings, decode_slots: threading.BoundedSemaphore
) -> PredictOut:
    start = time.perf_counter()
    with decode_slots:  # a full-size picture is held only while decoding: bound how many exist at once
        rgb = decode_reduced(data, settings.max_image_side, settings.max_image_pixels)
    h, w = rgb.shape[:2]
    model, predictions = service.predict(rgb)
    model_id = model.card.id
    faces = [
        FaceOut(
            box=[round(float(v), 5) for v in p.box],
            box_px=[round(p.box[0] * w), round(p.box[1] * h), round(p.box[2] * w), round(p.box[3] * h)],
            emotion=p.emotion,
            confidence=round(float(p.confidence), 5),
            probabilities={k: round(float(v), 5) for k, v in p.probabilities.items()},
            model_id=model_id,
        )
        for p in sorted(predictions, key=lambda p: (p.box[2] - p.box[0]) * (p.box[3] - p.box[1]), reverse=True)
    ]
    elapsed = round(1000 * (time.perf_counter() - start), 2)
    art = f"/api/art/{faces[0].emotion}.svg" if faces and faces[0].emotion in EMOTIONS else None
    log.info("predicted", extra={"faces": len(faces), "width": w, "height": h, "ms": elapsed, "model_id": model_id})
    return PredictOut(
        model_id=model_id,
        model_kind=model.card.kind,
        width=w,
        height=h,
        faces=faces,
        elapsed_ms=elapsed,
        artwork_url=art,
    )


@router.post("/predict", response_model=PredictOut, responses=_ERRORS, summary="Expressions in an uploaded image")
def predict(
    file: Annotated[UploadFile, File(description="A JPEG, PNG, BMP or WebP image.")],
    service: ServiceDep,
    settings: SettingsDep,
    decode_slots: DecodeSlotsDep,
) -> PredictOut:
    data = file.file.read()
    if not data:
        raise ImageNotReadable("the uploaded file is empty")
    return _predict(service, data, settings, decode_slots)


@router.post(
    "/predict/stream", response_model=PredictOut, responses=_ERRORS, summary="Expressions in one base64 browser frame"
)
def predict_stream(
    frame: StreamFrameIn, service: ServiceDep, settings: SettingsDep, decode_slots: DecodeSlotsDep
) -> PredictOut:
    return _predict(service, decode_base64_image(frame.image), settings, decode_slots)
