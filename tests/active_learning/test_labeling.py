"""Gemini labeling against the fake Gemini HTTP server, through the real google-genai client."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from sqlalchemy import select

from core.active_learning.labeling import label_queue, pending_ids
from core.active_learning.review_queue import build_queue, queue_items
from core.active_learning.tables import LabelFailure, Proposal
from core.db import session_scope
from core.gemini.ratelimit import RequestLimiter, RetryPolicy
from core.settings import Settings
from core.store import Store
from tests.active_learning.helpers import fill_pool, tiny_model
from tests.fakes.gemini_server import FakeGemini, Reply

KEY = "test-key-not-a-secret-123"
FAST = RetryPolicy(max_retries=3, base_delay_s=0.01, max_delay_s=0.05, timeout_s=10)


def _answer(emotion: str, confidence: float = 0.9) -> Reply:
    return Reply.json_text({"emotion": emotion, "confidence": confidence, "rationale": f"cues of {emotion}"})


@pytest.fixture
def queued(store: Store, face_variants: list[np.ndarray]) -> list[int]:
    fill_pool(store, face_variants, n=5)
    build_queue(store, tiny_model(store), strategy="entropy", k=5, min_distance=0.0)
    return [it.image_id for it in queue_items(store)]


def _rows(store: Store) -> tuple[list[Proposal], list[LabelFailure]]:
    with session_scope(store.engine) as session:
        return list(session.scalars(select(Proposal))), list(session.scalars(select(LabelFailure)))


def test_answers_become_proposals_and_bad_answers_failures(
    store: Store, settings: Settings, queued: list[int], fake_gemini: FakeGemini
) -> None:
    assert len(queued) == 5
    fake_gemini.enqueue(
        _answer("happy", 0.8),
        Reply.text('{"emotion": "happy", "confidence": 0.9'),  # malformed JSON (truncated)
        _answer("excited"),  # outside the vocabulary
        Reply.error(429),  # rate limited twice, then answered: retried, not a failure
        Reply.error(429),
        _answer("not_a_face", 0.7),
        Reply.error(400, "bad image"),  # permanent: recorded as a failure, not retried
    )
    fake_gemini.default = _answer("sad", 0.6)
    cfg = settings.model_copy(update={"gemini_base_url": fake_gemini.base_url})
    seen: list[tuple[int, int]] = []
    # One call at a time makes the scripted order deterministic.
    report = label_queue(
        store, cfg, KEY, limiter=RequestLimiter(1, 6000), policy=FAST, progress=lambda d, t: seen.append((d, t))
    )
    # Five images: happy; malformed; out of vocabulary; 429, 429, not_a_face; a permanent 400.
    assert report.proposed == 2 and report.failed == 3, report.failures
    assert seen[-1] == (5, 5)

    proposals, failures = _rows(store)
    assert sorted(p.answer for p in proposals) == ["happy", "not_a_face"]
    reasons = " | ".join(f.reason for f in failures)
    assert "malformed JSON" in reasons
    assert "'excited' is outside the vocabulary" in reasons
    assert all(KEY not in f.reason and KEY not in f.raw for f in failures)
    assert "HTTP 400" in reasons and "bad image" in reasons
    assert len(fake_gemini.requests) == 7  # the two 429s were retried; nothing else was
    raw = {f.reason.split(":")[0]: f.raw for f in failures}
    assert raw["malformed JSON"].startswith('{"emotion": "happy"')

    # The request is a structured-output call with the image and the answer schema.
    body = fake_gemini.requests[0].body
    config = body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    schema = config.get("responseSchema") or config.get("responseJsonSchema")
    assert "not_a_face" in str(schema) and "contempt" in str(schema)
    inline = body["contents"][0]["parts"][0]["inlineData"]
    assert (inline.get("mimeType") or inline.get("mime_type")) == "image/jpeg"
    assert base64.urlsafe_b64decode(inline["data"])[:2] == b"\xff\xd8"  # the SDK sends url-safe base64
    assert fake_gemini.requests[0].path.endswith(f"/models/{cfg.gemini_label_model}:generateContent")


def test_failures_are_retried_on_the_next_run_but_proposals_are_not(
    store: Store, settings: Settings, queued: list[int], fake_gemini: FakeGemini
) -> None:
    cfg = settings.model_copy(update={"gemini_base_url": fake_gemini.base_url})
    fake_gemini.default = Reply.error(429)  # rate limited for good: every call fails after its retries
    report = label_queue(store, cfg, KEY, limiter=RequestLimiter(5, 6000), policy=FAST)
    assert report.failed == 5 and report.proposed == 0
    assert all("429" in reason and "after 4 attempts" in reason for _, reason in report.failures)
    assert len(fake_gemini.requests) == 5 * 4

    fake_gemini.default = _answer("fear")
    again = label_queue(store, cfg, KEY, limiter=RequestLimiter(5, 6000), policy=FAST)
    assert again.proposed == 5
    items = queue_items(store)
    assert all(it.proposal is not None and it.proposal.emotion == "fear" and it.failure is None for it in items)
    assert items[0].proposal is not None and items[0].proposal.rationale == "cues of fear"

    third = label_queue(store, cfg, KEY, limiter=RequestLimiter(5, 6000), policy=FAST)
    assert third.proposed == 0 and third.already == 5
    assert pending_ids(store, cfg.gemini_label_model) == ([], 5)


def test_concurrency_is_bounded_by_the_limiter(
    store: Store, settings: Settings, queued: list[int], fake_gemini: FakeGemini
) -> None:
    cfg = settings.model_copy(update={"gemini_base_url": fake_gemini.base_url})
    fake_gemini.latency_s = 0.2
    fake_gemini.default = _answer("neutral")
    report = label_queue(store, cfg, KEY, limiter=RequestLimiter(2, 6000), policy=FAST)
    assert report.proposed == 5
    assert fake_gemini.max_in_flight == 2
