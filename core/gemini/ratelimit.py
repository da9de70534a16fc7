"""Bounded concurrency, a requests-per-minute limiter and error classification for remote API calls.

Generic on purpose: image generation and Gemini vision labeling both call `call_with_retry` with their own
coroutine factory and share one `RequestLimiter` per process/job. The retries themselves are the google-genai
client's (`HttpRetryOptions`, configured from `RetryPolicy` by `core.gemini.client.make_client`); its request hook
`count_attempt` makes every attempt, retries included, take a token from the limiter of the call it belongs to.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from core.errors import StudioError

if TYPE_CHECKING:
    from google.genai import types

    from core.settings import Settings

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

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(max_retries=settings.gemini_max_retries, timeout_s=settings.gemini_timeout_s)

    @property
    def attempts(self) -> int:
        return self.max_retries + 1

    def http_retry_options(self) -> types.HttpRetryOptions:
        """The SDK's exponential backoff: base * 2**retry plus up to `base` of random jitter (so synchronized
        clients spread out), capped at `max_delay_s`; it retries 408/429/5xx and transport errors."""
        from google.genai import types

        return types.HttpRetryOptions(
            attempts=self.attempts,
            initial_delay=self.base_delay_s,
            max_delay=self.max_delay_s,
            exp_base=2,
            jitter=self.base_delay_s,
            http_status_codes=sorted(RETRYABLE_CODES),
        )


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

    async def take_token(self) -> None:
        """Wait until the bucket allows one more request start."""
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
            await self.take_token()
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


Classifier = Callable[[BaseException], Verdict]


def _transport_errors() -> tuple[type[BaseException], ...]:
    out: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for name in ("httpx2", "httpx"):
        with contextlib.suppress(ImportError):
            module = __import__(name)
            out.append(module.TransportError)
    return tuple(out)


_TRANSPORT = _transport_errors()


def classify_error(exc: BaseException) -> Verdict:
    """Default classification: 408/429/5xx, timeouts and connection errors retry; 4xx and refusals do not."""
    if isinstance(exc, RemoteCallFailed):
        return Verdict(exc.retryable, exc.reason, exc.code)
    code = getattr(exc, "code", None)
    if isinstance(code, int) and code >= 400:
        status = getattr(exc, "status", None) or ""
        message = str(getattr(exc, "message", None) or "").strip()
        reason = f"HTTP {code} {status}: {message}".strip().rstrip(":")
        return Verdict(code in RETRYABLE_CODES, reason, code)
    if isinstance(exc, _TRANSPORT):
        return Verdict(True, f"{type(exc).__name__}: {exc}".rstrip(": "))
    return Verdict(False, f"{type(exc).__name__}: {exc}")


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """Remove secret values from a message before it is logged, stored or shown."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


@dataclass
class _Call:
    limiter: RequestLimiter | None
    attempts: int = 0


_CURRENT_CALL: contextvars.ContextVar[_Call | None] = contextvars.ContextVar("gemini_call", default=None)


async def count_attempt(request: Any) -> None:
    """httpx request hook (see `make_client`): counts the attempts of the current `call_with_retry`, and makes each
    retry take a token from its limiter, as the first attempt did when it took its slot."""
    call = _CURRENT_CALL.get()
    if call is None:
        return
    call.attempts += 1
    if call.attempts > 1 and call.limiter is not None:
        await call.limiter.take_token()


async def call_with_retry(
    make_call: Callable[[], Awaitable[T]],
    *,
    limiter: RequestLimiter | None = None,
    policy: RetryPolicy | None = None,
    classify: Classifier = classify_error,
    secrets: tuple[str, ...] = (),
) -> T:
    """Run `make_call()` under the limiter; the client made by `make_client` retries it as its policy says.

    A failure that is permanent, or still there after the client's retries, raises `RemoteCallFailed` with a
    redacted reason, the HTTP code and the number of attempts. Cancellation propagates immediately. `policy` only
    names the per-attempt timeout in the message (the client holds the policy it retries with).
    """
    policy = policy or RetryPolicy()
    call = _Call(limiter)
    token = _CURRENT_CALL.set(call)
    try:
        if limiter is None:
            return await make_call()
        async with limiter.slot():
            return await make_call()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        verdict = classify(exc)
        if _is_timeout(exc):
            verdict = Verdict(True, f"timed out after {policy.timeout_s:g} s")
        attempts = max(1, call.attempts)
        reason = redact(verdict.reason, secrets)
        suffix = f" (after {attempts} attempts)" if verdict.retry and attempts > 1 else ""
        error_type = Refused if isinstance(exc, Refused) else RemoteCallFailed
        raise error_type(reason + suffix, code=verdict.code, retryable=verdict.retry, attempts=attempts) from None
    finally:
        _CURRENT_CALL.reset(token)


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError) or type(exc).__name__.endswith("Timeout")
