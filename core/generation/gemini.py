"""google-genai async client construction from Settings, and one image generation call.

Gemini image models go through `generate_content` with the IMAGE response modality; Imagen models (`imagen-*`)
through `generate_images`, which the API offers only in Vertex mode.
"""

from __future__ import annotations

import ssl
from functools import lru_cache
from typing import Any, Final

from google import genai
from google.genai import types

from core.errors import StudioError
from core.generation.ratelimit import Refused
from core.settings import Settings

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


class MissingApiKey(StudioError):
    """No Gemini API key is configured."""


def estimate_cost(model: str, images: int) -> float:
    return round(PRICE_PER_IMAGE_USD.get(model, DEFAULT_PRICE_USD) * images, 2)


def is_imagen(model: str) -> bool:
    return model.startswith("imagen")


def resolve_key(settings: Settings, override: str | None = None) -> str:
    """The key typed into the page for this session wins over the configured one. Never logged."""
    if override and override.strip():
        return override.strip()
    if settings.gemini_api_key is not None:
        return settings.gemini_api_key.get_secret_value()
    raise MissingApiKey(
        "no Gemini API key: set GEMINI_API_KEY (or GOOGLE_API_KEY) in the environment, .env or "
        ".streamlit/secrets.toml, or type one into the Generate page"
    )


@lru_cache(maxsize=1)
def _shared_ssl_context() -> ssl.SSLContext | None:
    """The SDK loads CA certificates for every new client (0.1-0.3 s, blocking). Build that context once per
    process, the SDK's own way (so SSL_CERT_FILE and the OS trust store still apply), and share it. None when the
    SDK's internals differ from this version's: then each client builds its own, as usual."""
    try:
        from google.genai._api_client import BaseApiClient

        args, _ = BaseApiClient._ensure_httpx_ssl_ctx(types.HttpOptions())
    except Exception:
        return None
    ctx = args.get("verify")
    return ctx if isinstance(ctx, ssl.SSLContext) else None


def make_client(settings: Settings, api_key: str) -> genai.Client:
    """An API-key client; `gemini_base_url` points it at a proxy or the test server; `gemini_vertex` selects
    Vertex (express) mode, which Imagen needs."""
    ctx = None if settings.gemini_vertex else _shared_ssl_context()  # Vertex may need a client-certificate context
    options = types.HttpOptions(
        base_url=settings.gemini_base_url or None,
        timeout=int(settings.gemini_timeout_s * 1000),  # the SDK's own guard; call_with_retry times each attempt too
        client_args={"verify": ctx} if ctx else None,
        async_client_args={"verify": ctx, "ssl": ctx} if ctx else None,
    )
    return genai.Client(api_key=api_key, vertexai=settings.gemini_vertex or None, http_options=options)


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
