"""The google-genai client, built from Settings the same way for image generation and for active-learning labels."""

from __future__ import annotations

import functools
import logging
import os
import ssl

import certifi
import httpx
from google import genai
from google.genai import types

from core.errors import StudioError
from core.gemini.ratelimit import RetryPolicy, count_attempt, redact
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


class _RedactKeys(logging.Filter):
    """The SDK logs each retry with the server's error message, which may echo the API key: mask the keys of
    every client made here before such a record reaches any handler."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message, tuple(self.keys))
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_REDACT = _RedactKeys()


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context for every client of this process, with the CA certificates the SDK would load (certifi's, or
    SSL_CERT_FILE / SSL_CERT_DIR). Loading them takes 30-100 ms, and the SDK and httpx each did it again for every
    client (three times a client), holding up the event loop and each job's start."""
    return ssl.create_default_context(
        cafile=os.environ.get("SSL_CERT_FILE", certifi.where()), capath=os.environ.get("SSL_CERT_DIR")
    )


def make_client(settings: Settings, api_key: str, policy: RetryPolicy | None = None) -> genai.Client:
    """An API-key client that retries 408/429/5xx, timeouts and connection errors itself (`HttpRetryOptions`, from
    `policy`, default from Settings). `gemini_base_url` points it at a proxy or the test server; `gemini_vertex`
    selects Vertex (express) mode, which Imagen needs."""
    policy = policy or RetryPolicy.from_settings(settings)
    _REDACT.keys.add(api_key)
    sdk_log = logging.getLogger("google_genai._api_client")
    if _REDACT not in sdk_log.filters:
        sdk_log.addFilter(_REDACT)
    # Async calls go through httpx rather than aiohttp: the SDK retries httpx timeouts but not aiohttp's, and the
    # request hook lets every attempt, retries included, take its token from the call's RequestLimiter.
    # Vertex mode may need a client certificate (mutual TLS): the SDK builds that context itself.
    tls = None if settings.gemini_vertex else _tls_context()
    async_client = httpx.AsyncClient(event_hooks={"request": [count_attempt]}, verify=tls or True)
    options = types.HttpOptions(
        base_url=settings.gemini_base_url or None,
        timeout=int(policy.timeout_s * 1000),  # per attempt
        retry_options=policy.http_retry_options(),
        httpx_async_client=async_client,
        client_args={"verify": tls} if tls else None,
        async_client_args={"verify": tls, "ssl": tls} if tls else None,
    )
    return genai.Client(api_key=api_key, vertexai=settings.gemini_vertex or None, http_options=options)
