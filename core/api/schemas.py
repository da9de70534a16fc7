"""Request and response models of the API (separate input and output models; every route declares one)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ErrorOut(BaseModel):
    detail: str = Field(description="What was wrong, in words meant for the caller.")


class FaceOut(BaseModel):
    box: list[float] = Field(description="Normalized [x0, y0, x1, y1] of the face, 0..1 of width and height.")
    box_px: list[int] = Field(description="The same box in pixels of the submitted image.")
    emotion: str
    confidence: float
    probabilities: dict[str, float]
    model_id: str


class PredictOut(BaseModel):
    model_id: str
    model_kind: str
    width: int
    height: int
    faces: list[FaceOut] = Field(description="Every face found, largest first; empty when there is none.")
    elapsed_ms: float
    artwork_url: str | None = Field(default=None, description="Artwork of the largest face's emotion.")


class StreamFrameIn(BaseModel):
    """One browser frame: base64 image bytes (a `data:image/jpeg;base64,` prefix is accepted)."""

    model_config = ConfigDict(extra="forbid")

    image: str = Field(min_length=1, description="Base64-encoded JPEG or PNG.")


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    model_id: str | None
    model_kind: str | None
    classes: list[str]
    detail: str = ""
    api_key_required: bool = Field(
        default=False, description="Whether /api/predict* need 'Authorization: Bearer <key>' or 'X-API-Key'."
    )
