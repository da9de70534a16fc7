"""One image generation call through the google-genai client (`core.gemini.client`), and its price estimate.

Gemini image models go through `generate_content` with the IMAGE response modality; Imagen models (`imagen-*`)
through `generate_images`, which the API offers only in Vertex mode.
"""

from __future__ import annotations

from typing import Any, Final

from google import genai
from google.genai import types

from core.gemini.ratelimit import Refused

# Rough list prices in USD per generated image, for the page's estimate only (check current pricing).
PRICE_PER_IMAGE_USD: Final[dict[str, float]] = {
    "gemini-2.5-flash-image": 0.039,
    "gemini-2.5-flash-image-preview": 0.039,
    "gemini-3-pro-image-preview": 0.134,
    "imagen-4.0-generate-001": 0.04,
    "imagen-4.0-fast-generate-001": 0.02,
    "imagen-4.0-ultra-generate-001": 0.06,
}
DEFAULT_PRICE_USD: Final[float] = 0.04
_SAFETY_REASONS = {"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "IMAGE_SAFETY", "RECITATION", "OTHER"}


def estimate_cost(model: str, images: int) -> float:
    return round(PRICE_PER_IMAGE_USD.get(model, DEFAULT_PRICE_USD) * images, 2)


def is_imagen(model: str) -> bool:
    return model.startswith("imagen")


def _refusal_from_content(response: types.GenerateContentResponse) -> str:
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        detail = feedback.block_reason_message or ""
        return f"prompt blocked by safety filter ({_name(feedback.block_reason)}) {detail}".strip()
    candidates = response.candidates or []
    if not candidates:
        return "no image in the response (no candidates)"
    finish = _name(candidates[0].finish_reason) if candidates[0].finish_reason is not None else ""
    if finish in _SAFETY_REASONS:
        return f"refused by safety filter (finish reason {finish})"
    texts = [p.text for p in (candidates[0].content.parts or []) if p.text] if candidates[0].content else []
    said = (" ".join(texts)).strip()[:300]
    return f"no image in the response (finish reason {finish or 'unknown'})" + (f": {said}" if said else "")


def _name(value: Any) -> str:
    return str(getattr(value, "name", None) or getattr(value, "value", None) or value)


async def generate_image(
    client: genai.Client,
    *,
    model: str,
    prompt: str,
    seed: int | None = None,
    aspect_ratio: str = "1:1",
) -> bytes:
    """One portrait's image bytes; raises `Refused` (not retried) on a safety block or an answer without an image.

    API errors (429, 5xx, 4xx) propagate as google.genai.errors.APIError for `call_with_retry` to classify.
    """
    if is_imagen(model):
        if not client.vertexai:
            raise Refused(f"{model} is an Imagen model: it needs Vertex mode (set GEMINI_VERTEX=true)", code=400)
        images = await client.aio.models.generate_images(
            model=model,
            prompt=prompt,
            # No seed: Imagen accepts one only with its watermark switched off, and we keep the watermark.
            config=types.GenerateImagesConfig(number_of_images=1, aspect_ratio=aspect_ratio),
        )
        for generated in images.generated_images or []:
            if generated.image is not None and generated.image.image_bytes:
                return generated.image.image_bytes
        reasons = [g.rai_filtered_reason for g in images.generated_images or [] if g.rai_filtered_reason]
        raise Refused("refused by safety filter: " + "; ".join(reasons) if reasons else "no image in the response")

    response = await client.aio.models.generate_content(
        model=model,
        contents=prompt,
        config=types.GenerateContentConfig(
            response_modalities=["IMAGE"],
            image_config=types.ImageConfig(aspect_ratio=aspect_ratio),
            seed=seed,
        ),
    )
    for candidate in response.candidates or []:
        for part in (candidate.content.parts or []) if candidate.content else []:
            if part.inline_data is not None and part.inline_data.data:
                return part.inline_data.data
    raise Refused(_refusal_from_content(response))
