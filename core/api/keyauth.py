"""API key check and per-key rate limit of the prediction routes (when `Settings.requires_api_key`)."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from core.apikeys import ApiKeyInfo, ApiKeys
from core.auth.hosting import open_api_problem

WINDOW_S = 60.0
FAILED_PER_MINUTE = 10  # wrong keys a client may send in 60 s before it is throttled
MAX_CLIENTS = 10_000  # clients whose failures are remembered at once (the oldest is forgotten first)
security = logging.getLogger("core.api.security")


class RateLimiter:
    """At most `per_minute` requests per key in any 60-second window (sliding, in this process's memory).

    Memory is bounded: one deque of at most `per_minute` timestamps per valid key (invalid keys never get here).
    """

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key_id: str, now: float | None = None) -> float:
        """0 when the request may go ahead (and counts it); otherwise seconds until a slot frees up."""
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.setdefault(key_id, deque())
            while hits and now - hits[0] >= WINDOW_S:
                hits.popleft()
            if len(hits) >= self.per_minute:
                return WINDOW_S - (now - hits[0])
            hits.append(now)
            return 0.0


class FailureThrottle:
    """Per client (its address), at most `per_minute` wrong keys in any 60-second window; past that, every
    key check of that client is answered 429 until the oldest failure leaves the window, so guessing keys costs a
    minute per `per_minute` tries. One security event is logged per burst (when a client becomes throttled), not
    one per refused request.

    Memory is bounded: at most `per_minute` timestamps for each of at most MAX_CLIENTS clients. Behind a reverse
    proxy every client has the proxy's address unless uvicorn is told to trust its forwarding headers."""

    def __init__(self, per_minute: int = FAILED_PER_MINUTE) -> None:
        self.per_minute = per_minute
        self._failures: dict[str, deque[float]] = {}
        self._throttled: set[str] = set()  # clients whose current burst was already logged
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        failures = self._failures.get(client)
        if failures is None:
            return deque()
        while failures and now - failures[0] >= WINDOW_S:
            failures.popleft()
        if not failures:
            del self._failures[client]
            self._throttled.discard(client)  # the burst is over: the next one is logged again
        return failures

    def retry_after(self, client: str, now: float | None = None) -> float:
        """0 when `client` may try a key; otherwise seconds until its oldest recent failure leaves the window."""
        now = time.monotonic() if now is None else now
        with self._lock:
            failures = self._recent(client, now)
            if len(failures) >= self.per_minute:
                return WINDOW_S - (now - failures[0])
            return 0.0

    def failed(self, client: str, now: float | None = None) -> None:
        """Count a failed key check of `client`; logs the security event when this failure starts a throttle."""
        now = time.monotonic() if now is None else now
        with self._lock:
            failures = self._recent(client, now)
            if not failures:
                if len(self._failures) >= MAX_CLIENTS:
                    oldest = next(iter(self._failures))
                    del self._failures[oldest]
                    self._throttled.discard(oldest)
                self._failures[client] = failures
            failures.append(now)
            if len(failures) >= self.per_minute and client not in self._throttled:
                self._throttled.add(client)
                security.warning(
                    "API key guessing: %d failed key checks from %s within %d s; throttled",
                    len(failures),
                    client,
                    int(WINDOW_S),
                    extra={"event": "api_key_failures", "client": client, "failures": len(failures)},
                )


# Declared as security schemes so that /docs offers an "Authorize" button; neither refuses by itself (auto_error off).
_bearer = HTTPBearer(
    auto_error=False, description="An API key from the dashboard's API keys page or `python -m core apikeys create`."
)
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The same key, as a header.")


def require_api_key(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    header: Annotated[str | None, Depends(_header)],
) -> ApiKeyInfo | None:
    """A dependency: 401 without a valid key, 429 over the key's rate limit; None when keys are not required (403
    when they are not required but the request comes from another machine; see `open_api_problem`)."""
    keys: ApiKeys | None = request.app.state.api_keys
    if keys is None:
        # No keys required: fine on this machine, refused to others unless the operator said so explicitly.
        problem = open_api_problem(
            request.app.state.settings, request.client.host if request.client else None, request.headers
        )
        if problem:
            raise HTTPException(403, problem)
        return None
    client = request.client.host if request.client else "unknown"
    throttle: FailureThrottle = request.app.state.failure_throttle
    blocked = throttle.retry_after(client)
    if blocked > 0:
        raise HTTPException(
            429,
            f"too many failed API key attempts from this client; retry in {math.ceil(blocked)} s",
            headers={"Retry-After": str(math.ceil(blocked))},
        )
    presented = (bearer.credentials if bearer is not None else "") or (header or "")
    if not presented.strip():  # no guess: not counted
        raise HTTPException(
            401,
            "an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>' (create one on the "
            "dashboard's API keys page, or an operator runs `python -m core apikeys create --user EMAIL`)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    info = keys.verify(presented)
    if info is None:
        throttle.failed(client)
        # Never echo the presented value: it may be a real key with a typo.
        raise HTTPException(
            401,
            "the API key is not valid, was revoked, or its user was removed",
            headers={"WWW-Authenticate": "Bearer"},
        )
    request.state.api_key_id = info.key_id  # for the access log; the key itself is never logged
    limiter: RateLimiter = request.app.state.rate_limiter
    wait = limiter.retry_after(info.key_id)
    if wait > 0:
        raise HTTPException(
            429,
            f"this key reached its limit of {limiter.per_minute} requests a minute; retry in {math.ceil(wait)} s",
            headers={"Retry-After": str(math.ceil(wait))},
        )
    return info
