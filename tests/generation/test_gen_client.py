"""The real google-genai client against the fake Gemini server: retries, refusals, timeouts, limits, cancellation."""

from __future__ import annotations

import asyncio
import itertools
import time

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


def client_for(fake: FakeGemini, **kw: object) -> genai.Client:
    return make_client(Settings(_env_file=None, gemini_base_url=fake.base_url, **kw), KEY)  # type: ignore[call-arg]


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
    fake_gemini.enqueue(Reply.image(delay_s=2.0))
    policy = RetryPolicy(max_retries=2, base_delay_s=0.01, max_delay_s=0.02, timeout_s=0.3)
    start = time.monotonic()
    data = asyncio.run(generate(client_for(fake_gemini), policy))
    assert data.startswith(b"\x89PNG") and time.monotonic() - start < 1.5
    fake_gemini.default = Reply.image(delay_s=2.0)
    with pytest.raises(RemoteCallFailed, match=r"timed out after 0.3 s \(after 3 attempts\)"):
        asyncio.run(generate(client_for(fake_gemini), policy))


def test_cancellation_stops_an_in_flight_call_promptly(fake_gemini: FakeGemini) -> None:
    fake_gemini.default = Reply.image(delay_s=3.0)

    async def scenario() -> float:
        task = asyncio.create_task(generate(client_for(fake_gemini)))
        await asyncio.sleep(0.2)
        start = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return time.monotonic() - start

    assert asyncio.run(scenario()) < 0.5


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

    start = time.monotonic()
    asyncio.run(many())
    assert fake_gemini.max_in_flight == 3
    assert 0.55 < time.monotonic() - start < 2.0  # three waves of 0.2 s


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


def test_backoff_grows_with_jitter_and_respects_the_cap() -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=8.0)
    for retry, (lo, hi) in enumerate([(0.5, 1.0), (1.0, 2.0), (2.0, 4.0), (4.0, 8.0), (4.0, 8.0)]):
        delays = {policy.delay(retry) for _ in range(50)}
        assert all(lo <= d <= hi for d in delays) and len(delays) > 1
    assert policy.delay(0, hint_s=5.0) == 5.0 and policy.delay(0, hint_s=60.0) == 8.0


def test_a_server_retry_delay_is_honoured(fake_gemini: FakeGemini) -> None:
    policy = RetryPolicy(max_retries=2, base_delay_s=0.01, max_delay_s=2.0, timeout_s=5)

    async def timed() -> float:
        client = client_for(fake_gemini)
        await generate(client, policy)  # warm: connection and imports
        fake_gemini.enqueue(Reply.error(429, retry_delay_s=0.5))
        start = time.monotonic()
        await generate(client, policy)
        return time.monotonic() - start

    assert asyncio.run(timed()) >= 0.5  # the backoff alone would have waited about 10 ms


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
