"""Gemini vision labeling of queued images: structured output validated by a pydantic schema, stored as proposals.

Calls share `core.gemini` with generation (`RequestLimiter`, `call_with_retry`, `RetryPolicy`): bounded concurrency,
a requests-per-minute budget, and backoff on 429/5xx. An answer that is not JSON, misses fields, or names an emotion
outside the vocabulary is recorded as a `LabelFailure` with its reason; so is a call that fails for good. Nothing
here becomes a label: a person approves proposals on the Active Learning page.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from google import genai
from google.genai import types
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select

from core.active_learning.review_queue import queue_items
from core.active_learning.tables import LabelFailure, Proposal
from core.auth import Permission, require
from core.db import session_scope
from core.errors import ImageNotReadable, StudioError
from core.gemini.client import make_client
from core.gemini.ratelimit import RemoteCallFailed, RequestLimiter, RetryPolicy, call_with_retry, redact
from core.imaging import decode_rgb, encode_jpeg, limit_size
from core.progress import ProgressFn
from core.schema import EMOTIONS
from core.settings import Settings
from core.store import Store
from core.store.tables import ImageRecord

log = logging.getLogger(__name__)

NOT_A_FACE, UNCLEAR = "not_a_face", "unclear"
ANSWERS: Final[tuple[str, ...]] = (*EMOTIONS, NOT_A_FACE, UNCLEAR)
MAX_RATIONALE = 300
UPLOAD_SIDE = 768  # images are downscaled before upload: enough for an expression, fewer tokens
RAW_KEEP = 500  # characters of a bad answer kept for diagnosis

# The answer vocabulary as an enum, so the response schema sent to Gemini lists the allowed values.
Answer = enum.Enum("Answer", {name.upper(): name for name in ANSWERS}, type=str)  # type: ignore[misc]

PROMPT: Final[str] = (
    "You label facial expressions for a training set. Look at the main face in the image and answer with JSON: "
    f"`emotion` is one of {', '.join(EMOTIONS)}; answer '{NOT_A_FACE}' when there is no human face and "
    f"'{UNCLEAR}' when the expression cannot be told. `confidence` is your probability (0 to 1) that the answer "
    "is right. `rationale` names the facial cues you used (brows, eyes, mouth) in one short sentence."
)


class LabelAnswer(BaseModel):
    """The structured answer Gemini must return (sent as `response_schema`)."""

    emotion: Answer = Field(description="An emotion of the vocabulary, or not_a_face / unclear.")
    confidence: float = Field(ge=0.0, le=1.0, description="Probability that the answer is right, 0 to 1.")
    rationale: str = Field(description="One short sentence naming the facial cues.")


class BadAnswer(StudioError):
    """A response that does not fit the schema; the message says why."""

    def __init__(self, reason: str, raw: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.raw = raw[:RAW_KEEP]


def parse_answer(text: str | None) -> tuple[str, float, str]:
    """(answer, confidence, rationale) of a response text; `BadAnswer` for malformed or out-of-vocabulary output."""
    raw = (text or "").strip()
    if not raw:
        raise BadAnswer("empty answer (no JSON text in the response)")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BadAnswer(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", raw) from None
    if not isinstance(value, dict):
        raise BadAnswer(f"expected a JSON object, got {type(value).__name__}", raw)
    emotion = value.get("emotion")
    if isinstance(emotion, str) and emotion.strip().lower() not in ANSWERS:
        raise BadAnswer(f"answer {emotion!r} is outside the vocabulary ({', '.join(ANSWERS)})", raw)
    if isinstance(emotion, str):
        value = {**value, "emotion": emotion.strip().lower()}
    try:
        parsed = LabelAnswer.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'answer'}: {e['msg']}" for e in exc.errors())
        raise BadAnswer(f"answer does not fit the schema: {problems}", raw) from None
    rationale = " ".join(parsed.rationale.split())[:MAX_RATIONALE]
    return str(parsed.emotion.value), float(parsed.confidence), rationale


def image_part(data: bytes) -> types.Part:
    """The image as a downscaled JPEG part (ImageNotReadable for bytes that are not an image)."""
    rgb, _ = limit_size(decode_rgb(data), UPLOAD_SIDE)
    return types.Part.from_bytes(data=encode_jpeg(rgb), mime_type="image/jpeg")


async def request_label(client: genai.Client, *, model: str, image: types.Part) -> str:
    """One labeling call; returns the answer's text. API errors propagate for `call_with_retry` to classify.
    The text is checked by `parse_answer` afterwards: a bad answer is recorded, not retried."""
    response = await client.aio.models.generate_content(
        model=model,
        contents=types.Content(role="user", parts=[image, types.Part.from_text(text=PROMPT)]),
        config=types.GenerateContentConfig(
            response_mime_type="application/json", response_schema=LabelAnswer, temperature=0.0
        ),
    )
    return response.text or ""


@dataclass
class LabelReport:
    proposed: int = 0
    failed: int = 0
    already: int = 0  # queued images that already had a proposal from this model (resumed runs skip them)
    failures: list[tuple[int, str]] = field(default_factory=list)
    cancelled: bool = False

    def summary(self) -> str:
        text = f"{self.proposed} proposals, {self.failed} failures"
        if self.already:
            text += f", {self.already} already labeled"
        return text + (" (cancelled)" if self.cancelled else "")


def pending_ids(store: Store, model: str, *, relabel: bool = False) -> tuple[list[int], int]:
    """Queued image ids without a proposal from `model` (all queued ids with `relabel`), and how many had one."""
    queued = [item.image_id for item in queue_items(store)]
    if relabel:
        return queued, 0
    with session_scope(store.engine) as session:
        done = set(
            session.scalars(select(Proposal.image_id).where(Proposal.model == model, Proposal.image_id.in_(queued)))
        )
    return [i for i in queued if i not in done], len(done)


def _save_proposal(store: Store, image_id: int, model: str, answer: tuple[str, float, str]) -> None:
    with session_scope(store.engine) as session:
        session.add(
            Proposal(image_id=image_id, model=model, answer=answer[0], confidence=answer[1], rationale=answer[2])
        )


def _save_failure(store: Store, image_id: int, model: str, reason: str, raw: str = "") -> None:
    with session_scope(store.engine) as session:
        session.add(LabelFailure(image_id=image_id, model=model, reason=reason, raw=raw))


def label_queue(
    store: Store,
    settings: Settings,
    api_key: str,
    *,
    model: str | None = None,
    image_ids: Sequence[int] | None = None,
    relabel: bool = False,
    limiter: RequestLimiter | None = None,
    policy: RetryPolicy | None = None,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> LabelReport:
    """Ask Gemini for a proposal for each queued image (those without one from this model, unless `relabel`).

    Each result is saved as soon as it arrives, so a cancelled or crashed run resumes where it stopped.
    """
    require(Permission.LLM_LABEL)
    model = model or settings.gemini_label_model
    ids, already = pending_ids(store, model, relabel=relabel)
    if image_ids is not None:
        wanted = set(image_ids)
        ids = [i for i in ids if i in wanted]
    report = LabelReport(already=already)
    if not ids:
        return report
    policy = policy or RetryPolicy.from_settings(settings)
    client = make_client(settings, api_key, policy)
    return asyncio.run(
        _label_all(store, client, model, ids, api_key, report, limiter, policy, progress, cancel, settings)
    )


@dataclass
class _Run:
    """What the concurrent labeling calls of one run share."""

    store: Store
    client: genai.Client
    model: str
    limiter: RequestLimiter
    policy: RetryPolicy
    secrets: tuple[str, ...]  # redacted from every recorded reason and answer
    report: LabelReport
    progress: ProgressFn | None
    cancel: threading.Event | None
    total: int
    done: int = 0


async def _label_all(
    store: Store,
    client: genai.Client,
    model: str,
    ids: list[int],
    api_key: str,
    report: LabelReport,
    limiter: RequestLimiter | None,
    policy: RetryPolicy,
    progress: ProgressFn | None,
    cancel: threading.Event | None,
    settings: Settings,
) -> LabelReport:
    limiter = limiter or RequestLimiter(settings.gemini_concurrency, settings.gemini_rpm)
    run = _Run(store, client, model, limiter, policy, (api_key,), report, progress, cancel, total=len(ids))
    if run.progress is not None:
        run.progress(0, run.total)
    try:
        await asyncio.gather(*(_label_one(run, i) for i in ids))
    finally:
        await run.client.aio.aclose()
    return run.report


async def _label_one(run: _Run, image_id: int) -> None:
    """Ask for one image's proposal and save it, or record why there is none."""
    if run.cancel is not None and run.cancel.is_set():
        run.report.cancelled = True
        return
    record = await asyncio.to_thread(run.store.get, image_id)
    reason, raw = "", ""
    try:
        answer = await _ask(run, record)
    except BadAnswer as exc:
        reason, raw = exc.reason, exc.raw
    except RemoteCallFailed as exc:
        reason = exc.reason
    except ImageNotReadable as exc:
        reason = f"image not readable: {exc}"
    except OSError as exc:
        reason = f"cannot read the image file: {exc.strerror or exc}"
    except StudioError as exc:
        reason = str(exc)
    else:
        await asyncio.to_thread(_save_proposal, run.store, image_id, run.model, answer)
        run.report.proposed += 1
    if reason:
        reason = redact(reason, run.secrets)
        log.info("labeling image %d failed: %s", image_id, reason)
        if record is not None:
            await asyncio.to_thread(_save_failure, run.store, image_id, run.model, reason, redact(raw, run.secrets))
        run.report.failed += 1
        run.report.failures.append((image_id, reason))
    run.done += 1
    if run.progress is not None:
        run.progress(run.done, run.total)


async def _ask(run: _Run, record: ImageRecord | None) -> tuple[str, float, str]:
    """The model's parsed answer for the image (StudioError when it was deleted meanwhile)."""
    if record is None:
        raise StudioError("the image was deleted")
    part = image_part(await asyncio.to_thread(run.store.read_bytes, record))
    text = await call_with_retry(
        lambda: request_label(run.client, model=run.model, image=part),
        limiter=run.limiter,
        policy=run.policy,
        secrets=run.secrets,
    )
    return parse_answer(text)
