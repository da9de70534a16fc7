"""The real google-genai client against the fake Gemini server: retries, refusals, timeouts, limits, cancellation."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import Any

import pytest
from google import genai
from google.genai import types
from pydantic import BaseModel

from core.gemini.client import make_client
from core.gemini.ratelimit import (
    Refused,
    RemoteCallFailed,
    RequestLimiter,
    RetryPolicy,
    call_with_retry,
)
from core.generation.image_api import generate_image
from core.imaging import decode_rgb
from core.settings import Settings
from tests.fakes.gemini_server import FakeGemini, Reply

KEY = "test-key-not-real-7f3a"
FAST = RetryPolicy(max_retries=3, base_delay_s=0.01, max_delay_s=0.05, timeout_s=5)


def client_for(fake: FakeGemini, policy: RetryPolicy = FAST, **kw: Any) -> genai.Client:
    settings = Settings(_env_file=None, gemini_base_url=fake.base_url, **kw)  # type: ignore[call-arg]
    return make_client(settings, KEY, policy)


async def generate(client: genai.Client, policy: RetryPolicy = FAST, model: str = "gemini-2.5-flash-image") -> bytes:
    return await call_with_retry(
        lambda: generate_image(client, model=model, prompt="a happy face", seed=1), policy=policy, secrets=(KEY,)
    )


def test_success_returns_real_png_and_sends_the_image_modality(fake_gemini: FakeGemini) -> None:
    data = asyncio.run(generate(client_for(fake_gemini)))
    assert decode_rgb(data).shape == (256, 256, 3)
    req = fake_gemini.requests[0]
    assert req.path.endswith("/models/gemini-2.5-flash-image:generateContent")
    assert req.body["generationConfig"]["responseModalities"] == ["IMAGE"]
    assert req.headers["x-goog-api-key"] == KEY


@pytest.mark.parametrize("code", [429, 503])
def test_transient_errors_are_retried_then_succeed(fake_gemini: FakeGemini, code: int) -> None:
    fake_gemini.enqueue(Reply.error(code), Reply.error(code))
    data = asyncio.run(generate(client_for(fake_gemini)))
    assert data.startswith(b"\x89PNG") and len(fake_gemini.requests) == 3


def test_retries_run_out_with_the_last_reason(fake_gemini: FakeGemini) -> None:
    fake_gemini.default = Reply.error(503, "overloaded")
    with pytest.raises(RemoteCallFailed) as err:
        asyncio.run(generate(client_for(fake_gemini)))
    assert err.value.code == 503 and "overloaded" in err.value.reason and "after 4 attempts" in err.value.reason
    assert len(fake_gemini.requests) == 4


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply.error(400, "Invalid prompt"), "HTTP 400 INVALID_ARGUMENT: Invalid prompt"),
        (Reply.error(401), "HTTP 401"),
        (Reply.error(403), "HTTP 403"),
        (Reply.no_image("Sorry, text only"), "no image in the response (finish reason STOP): Sorry, text only"),
        (Reply.safety(), "refused by safety filter (finish reason SAFETY)"),
        (Reply.safety("IMAGE_SAFETY"), "IMAGE_SAFETY"),
        (Reply.blocked_prompt("PROHIBITED_CONTENT"), "prompt blocked by safety filter (PROHIBITED_CONTENT)"),
    ],
)
def test_permanent_failures_are_not_retried(fake_gemini: FakeGemini, reply: Reply, expected: str) -> None:
    fake_gemini.default = reply
    with pytest.raises(RemoteCallFailed) as err:
        asyncio.run(generate(client_for(fake_gemini)))
    assert expected in err.value.reason
    assert len(fake_gemini.requests) == 1


def test_refusals_are_typed(fake_gemini: FakeGemini) -> None:
    fake_gemini.default = Reply.safety()
    with pytest.raises(Refused):
        asyncio.run(generate(client_for(fake_gemini)))


def test_a_key_echoed_by_the_server_is_redacted(fake_gemini: FakeGemini) -> None:
    fake_gemini.default = Reply.error(403, f"API key {KEY} is not valid")
    with pytest.raises(RemoteCallFailed) as err:
        asyncio.run(generate(client_for(fake_gemini)))
    assert KEY not in str(err.value) and "***" in str(err.value)


def test_slow_responses_time_out_per_attempt_and_are_retried(fake_gemini: FakeGemini) -> None:
    fake_gemini.enqueue(Reply.image(delay_s=5.0))
    policy = RetryPolicy(max_retries=2, base_delay_s=0.01, max_delay_s=0.02, timeout_s=0.5)
    data = asyncio.run(generate(client_for(fake_gemini, policy), policy))
    assert data.startswith(b"\x89PNG") and len(fake_gemini.requests) == 2  # the slow one timed out, then one more
    fake_gemini.default = Reply.image(delay_s=5.0)
    with pytest.raises(RemoteCallFailed, match=r"timed out after 0.5 s \(after 3 attempts\)"):
        asyncio.run(generate(client_for(fake_gemini, policy), policy))


def test_cancellation_stops_an_in_flight_call_promptly(fake_gemini: FakeGemini) -> None:
    fake_gemini.default = Reply.image(delay_s=60.0)  # the answer would come long after the test's own bound

    async def scenario() -> None:
        task = asyncio.create_task(generate(client_for(fake_gemini)))
        while not fake_gemini.requests:  # the request is in flight at the server
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 30)  # a TimeoutError here would mean the cancel waited for the answer

    asyncio.run(scenario())


@pytest.mark.filterwarnings("ignore:The generate_images method is deprecated")
def test_imagen_needs_vertex_mode_and_works_in_it(fake_gemini: FakeGemini) -> None:
    with pytest.raises(Refused, match="Vertex"):
        asyncio.run(generate(client_for(fake_gemini), model="imagen-4.0-generate-001"))
    data = asyncio.run(generate(client_for(fake_gemini, gemini_vertex=True), model="imagen-4.0-generate-001"))
    assert data.startswith(b"\x89PNG")
    assert fake_gemini.requests[-1].path.endswith("/publishers/google/models/imagen-4.0-generate-001:predict")


def test_limiter_bounds_concurrency_at_the_server(fake_gemini: FakeGemini) -> None:
    fake_gemini.latency_s = 0.2
    client = client_for(fake_gemini)

    async def many() -> None:
        limiter = RequestLimiter(3, rpm=10_000)
        await asyncio.gather(
            *(
                call_with_retry(lambda: generate_image(client, model="m", prompt="p"), limiter=limiter, policy=FAST)
                for _ in range(9)
            )
        )

    asyncio.run(many())
    assert fake_gemini.max_in_flight == 3 and len(fake_gemini.requests) == 9


def test_requests_per_minute_are_spaced() -> None:
    async def starts() -> list[float]:
        limiter = RequestLimiter(10, rpm=600, burst=1)  # 10 per second, no burst
        stamps: list[float] = []

        async def one() -> None:
            async with limiter.slot():
                stamps.append(time.monotonic())

        await asyncio.gather(*(one() for _ in range(5)))
        return stamps

    stamps = asyncio.run(starts())
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert all(g > 0.08 for g in gaps), gaps


def test_the_policy_becomes_the_sdks_retry_options() -> None:
    options = RetryPolicy(max_retries=3, base_delay_s=0.5, max_delay_s=8.0).http_retry_options()
    assert (options.attempts, options.initial_delay, options.max_delay, options.jitter) == (4, 0.5, 8.0, 0.5)
    assert set(options.http_status_codes or ()) == {408, 429, 500, 502, 503, 504}


def test_every_retry_takes_a_token_from_the_shared_bucket(fake_gemini: FakeGemini) -> None:
    """Retries happen inside the SDK, yet each attempt still counts against the requests-per-minute budget."""
    fake_gemini.enqueue(Reply.error(503), Reply.error(503))
    limiter = RequestLimiter(2, rpm=6000, burst=5)
    taken: list[int] = []
    real_take = limiter.take_token

    async def counting_take() -> None:
        taken.append(1)
        await real_take()

    limiter.take_token = counting_take  # type: ignore[method-assign]

    async def run() -> bytes:
        client = client_for(fake_gemini)
        return await call_with_retry(lambda: generate_image(client, model="m", prompt="p"), limiter=limiter)

    assert asyncio.run(run()).startswith(b"\x89PNG")
    assert len(fake_gemini.requests) == 3 and len(taken) == 3


class Label(BaseModel):
    emotion: str
    confidence: float


def test_structured_output_through_the_same_machinery(fake_gemini: FakeGemini) -> None:
    """What Gemini vision labeling reuses: the client, the limiter and call_with_retry, with a JSON answer."""
    fake_gemini.enqueue(Reply.error(503), Reply.json_text({"emotion": "happy", "confidence": 0.9}))
    client = client_for(fake_gemini)
    config = types.GenerateContentConfig(response_mime_type="application/json", response_schema=Label)

    async def label() -> types.GenerateContentResponse:
        return await call_with_retry(
            lambda: client.aio.models.generate_content(model="gemini-2.5-flash", contents="label", config=config),
            limiter=RequestLimiter(4, rpm=600),
            policy=FAST,
        )

    response = asyncio.run(label())
    assert response.parsed == Label(emotion="happy", confidence=0.9)
    assert "responseSchema" in fake_gemini.requests[-1].body["generationConfig"]


def test_the_sdks_retry_log_never_shows_the_key(fake_gemini: FakeGemini, caplog: pytest.LogCaptureFixture) -> None:
    """google-genai logs each retry with the server's message; a server that echoes the key must not leak it."""
    fake_gemini.enqueue(Reply.error(503, f"bad key={KEY}"))
    caplog.set_level(logging.DEBUG)
    assert asyncio.run(generate(client_for(fake_gemini))).startswith(b"\x89PNG")
    assert "Retrying" in caplog.text and "***" in caplog.text and KEY not in caplog.text
