"""The google-genai client, built from Settings the same way for image generation and for active-learning labels."""

from __future__ import annotations

import ssl
from functools import lru_cache

from google import genai
from google.genai import types

from core.errors import StudioError
from core.settings import Settings


class MissingApiKey(StudioError):
    """No Gemini API key is configured."""


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
