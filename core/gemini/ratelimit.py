"""Bounded concurrency, a requests-per-minute limiter and retry with backoff for remote API calls.

Generic on purpose: image generation and Gemini vision labeling both call `call_with_retry` with their own
coroutine factory and share one `RequestLimiter` per process/job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from core.errors import StudioError

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRYABLE_CODES = frozenset({408, 429, 500, 502, 503, 504})


class RemoteCallFailed(StudioError):
    """A remote call that failed for good; `reason` is safe to show and store (no secrets)."""

    def __init__(self, reason: str, *, code: int | None = None, retryable: bool = False, attempts: int = 1) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.retryable = retryable
        self.attempts = attempts


class Refused(RemoteCallFailed):
    """The service answered but refused the content (safety block, no image); retrying does not help."""


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4  # retries after the first attempt
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0
    timeout_s: float = 60.0  # per attempt

    def delay(self, retry_index: int, hint_s: float | None = None) -> float:
        """Exponential backoff with equal jitter: half fixed, half random, so synchronized clients spread out."""
        cap = min(self.max_delay_s, self.base_delay_s * (2**retry_index))
        jittered = cap / 2 + random.uniform(0, cap / 2)
        # A server hint (Retry-After / RetryInfo) is a floor, never a reason to wait beyond max_delay.
        return min(self.max_delay_s, max(jittered, hint_s or 0.0))


class RequestLimiter:
    """At most `concurrency` calls in flight and at most `rpm` call starts per rolling minute (token bucket).

    The bucket holds up to `burst` tokens (default: the concurrency), so a fresh limiter can start a full wave at once
    and then settles at rpm/60 starts per second.
    """

    def __init__(self, concurrency: int, rpm: float, *, burst: int | None = None) -> None:
        if concurrency < 1 or rpm <= 0:
            raise ValueError("concurrency must be >= 1 and rpm > 0")
        self.concurrency = concurrency
        self.rpm = rpm
        self._sem = asyncio.Semaphore(concurrency)
        self._capacity = float(burst if burst is not None else max(1, min(concurrency, int(rpm))))
        self._tokens = self._capacity
        self._rate = rpm / 60.0
        self._stamp = time.monotonic()
        self._bucket_lock = asyncio.Lock()
        self.in_flight = 0

    async def _take_token(self) -> None:
        async with self._bucket_lock:  # one waiter at a time keeps the order fair
            while True:
                now = time.monotonic()
                self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
                self._stamp = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                await asyncio.sleep((1 - self._tokens) / self._rate)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one concurrency slot for the body; the rate token is taken after the slot so waits don't burn it."""
        async with self._sem:
            await self._take_token()
            self.in_flight += 1
            try:
                yield
            finally:
                self.in_flight -= 1


@dataclass(frozen=True)
class Verdict:
    retry: bool
    reason: str
    code: int | None = None
    hint_s: float | None = None


Classifier = Callable[[BaseException], Verdict]


def _transport_errors() -> tuple[type[BaseException], ...]:
    out: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for name in ("httpx2", "httpx"):
        with contextlib.suppress(ImportError):
            module = __import__(name)
            out.append(module.TransportError)
    return tuple(out)


_TRANSPORT = _transport_errors()
_RETRY_DELAY = re.compile(r"retryDelay['\"]?\s*[:=]\s*['\"]?(\d+(?:\.\d+)?)s")


def classify_error(exc: BaseException) -> Verdict:
    """Default classification: 408/429/5xx, timeouts and connection errors retry; 4xx and refusals do not."""
    if isinstance(exc, RemoteCallFailed):
        return Verdict(exc.retryable, exc.reason, exc.code)
    code = getattr(exc, "code", None)
    if isinstance(code, int) and code >= 400:
        status = getattr(exc, "status", None) or ""
        message = str(getattr(exc, "message", None) or "").strip()
        reason = f"HTTP {code} {status}: {message}".strip().rstrip(":")
        match = _RETRY_DELAY.search(str(getattr(exc, "details", "")))
        hint = float(match.group(1)) if match else None
        return Verdict(code in RETRYABLE_CODES, reason, code, hint)
    if isinstance(exc, _TRANSPORT):
        return Verdict(True, f"{type(exc).__name__}: {exc}".rstrip(": "))
    return Verdict(False, f"{type(exc).__name__}: {exc}")


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """Remove secret values from a message before it is logged, stored or shown."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


async def call_with_retry(
    make_call: Callable[[], Awaitable[T]],
    *,
    limiter: RequestLimiter | None = None,
    policy: RetryPolicy | None = None,
    classify: Classifier = classify_error,
    secrets: tuple[str, ...] = (),
    on_retry: Callable[[int, Verdict, float], None] | None = None,
) -> T:
    """Run `make_call()` (a fresh coroutine per attempt) under the limiter, with a per-attempt timeout.

    Retryable failures back off and try again; the limiter slot is released while waiting so other calls proceed.
    A permanent failure, or running out of retries, raises `RemoteCallFailed` with a redacted reason and the HTTP
    code. Cancellation propagates immediately.
    """
    policy = policy or RetryPolicy()
    attempt = 0
    while True:
        attempt += 1
        try:
            if limiter is None:
                return await asyncio.wait_for(make_call(), policy.timeout_s)
            async with limiter.slot():
                return await asyncio.wait_for(make_call(), policy.timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            verdict = classify(exc)
            if isinstance(exc, TimeoutError) and not str(exc):  # asyncio.wait_for's timeout carries no message
                verdict = Verdict(True, f"timed out after {policy.timeout_s:g} s")
            reason = redact(verdict.reason, secrets)
            if not verdict.retry or attempt > policy.max_retries:
                suffix = f" (after {attempt} attempts)" if verdict.retry else ""
                error_type = Refused if isinstance(exc, Refused) else RemoteCallFailed
                raise error_type(
                    reason + suffix, code=verdict.code, retryable=verdict.retry, attempts=attempt
                ) from None
            delay = policy.delay(attempt - 1, verdict.hint_s)
            log.info("retry %d/%d in %.2fs: %s", attempt, policy.max_retries, delay, reason)
            if on_retry is not None:
                on_retry(attempt, verdict, delay)
            await asyncio.sleep(delay)
