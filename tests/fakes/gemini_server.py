"""A real HTTP server on 127.0.0.1 that speaks the Gemini wire format, scriptable per request.

Use it with the real google-genai client (`HttpOptions(base_url=fake.base_url)` or `GEMINI_BASE_URL`):

    with FakeGemini() as fake:                 # every request: a fresh, unique, real PNG portrait
        fake.enqueue(Reply.error(429), Reply.error(503))   # the next two requests fail, then the default
        fake.on("disgust", Reply.safety())     # requests whose prompt contains "disgust" are blocked
        fake.default = Reply.json_text({"emotion": "happy"})  # structured output (response_schema) answers

Replies: `image`, `error`, `no_image`, `safety`, `blocked_prompt`, `json_text`, `text`; each takes `delay_s`.
`latency_s` adds a delay to every request. `requests` records what arrived (path, body, headers).
Also a pytest fixture (`fake_gemini`) and a command line (`python -m tests.fakes.gemini_server --latency 0.3`)
that prints the base URL, for benchmarks that need the server in its own process.
"""

from __future__ import annotations

import argparse
import base64
import collections
import json
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

SIDE = 256


@lru_cache(maxsize=4)
def _face_rows(side: int = SIDE) -> tuple[bytes, ...]:
    """A real face photo (scikit-image's astronaut) at 256x256 as PNG scanlines (filter byte 0 + RGB)."""
    try:
        import numpy as np
        from PIL import Image
        from skimage import data

        rgb = np.asarray(Image.fromarray(data.astronaut()).resize((side, side)))
    except ImportError:  # pragma: no cover - scikit-image is a dev dependency
        import numpy as np

        rgb = np.fromfunction(lambda y, x, c: (x + y + 40 * c) % 256, (side, side, 3)).astype("uint8")
    return tuple(b"\x00" + bytes(row) for row in rgb)


@lru_cache(maxsize=4)
def _compressed_prefix(side: int = SIDE) -> Any:
    """A zlib compressor that has seen every scanline but the last; copies of it finish unique images cheaply."""
    comp = zlib.compressobj(6)
    head = comp.compress(b"".join(_face_rows(side)[:-1]))
    return head, comp


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def unique_png(counter: int, side: int = SIDE) -> bytes:
    """The face photo with its last pixel row carrying `counter` (base-4 digits as big red steps): a valid PNG
    whose pixels differ for every counter, even after downscaling, so the content-addressed store never dedupes."""
    last = bytearray(_face_rows(side)[-1])
    for i in range(min(24, side // 4)):
        digit = (counter >> (2 * i)) & 3
        for dx in range(4):  # 4-pixel-wide steps survive a 4x downscale
            last[1 + 3 * (4 * i + dx)] = 64 * digit + 32
    head, comp = _compressed_prefix(side)
    tail = comp.copy()
    idat = head + tail.compress(bytes(last)) + tail.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def base_png() -> bytes:
    return unique_png(0)


@dataclass
class Reply:
    status: int = 200
    body: dict[str, Any] | None = None
    delay_s: float = 0.0
    png: bytes | None = None  # for image replies: fixed bytes; None means a fresh unique PNG
    kind: str = "json"

    @classmethod
    def image(cls, png: bytes | None = None, *, delay_s: float = 0.0) -> Reply:
        return cls(kind="image", png=png, delay_s=delay_s)

    @classmethod
    def error(
        cls,
        code: int = 429,
        message: str = "",
        *,
        status: str = "",
        retry_delay_s: float | None = None,
        delay_s: float = 0.0,
    ) -> Reply:
        """An API error; `retry_delay_s` adds the RetryInfo detail the real API sends with some 429s."""
        names = {
            400: "INVALID_ARGUMENT",
            401: "UNAUTHENTICATED",
            403: "PERMISSION_DENIED",
            404: "NOT_FOUND",
            429: "RESOURCE_EXHAUSTED",
            500: "INTERNAL",
            503: "UNAVAILABLE",
            504: "DEADLINE_EXCEEDED",
        }
        status = status or names.get(code, "UNKNOWN")
        body: dict[str, Any] = {"error": {"code": code, "message": message or f"fake {status}", "status": status}}
        if retry_delay_s is not None:
            body["error"]["details"] = [
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{retry_delay_s}s"}
            ]
        return cls(status=code, body=body, delay_s=delay_s)

    @classmethod
    def no_image(cls, text: str = "I can describe the portrait but not draw it.", *, delay_s: float = 0.0) -> Reply:
        return cls.text(text, delay_s=delay_s)

    @classmethod
    def text(cls, text: str, *, delay_s: float = 0.0) -> Reply:
        return cls(body=_candidate([{"text": text}]), delay_s=delay_s)

    @classmethod
    def json_text(cls, value: Any, *, delay_s: float = 0.0) -> Reply:
        """A structured-output answer: one text part holding JSON (`resp.parsed` gives the schema model)."""
        return cls.text(json.dumps(value), delay_s=delay_s)

    @classmethod
    def safety(cls, finish_reason: str = "SAFETY", *, delay_s: float = 0.0) -> Reply:
        body = {"candidates": [{"content": {"role": "model", "parts": []}, "finishReason": finish_reason, "index": 0}]}
        return cls(body=body, delay_s=delay_s)

    @classmethod
    def blocked_prompt(cls, reason: str = "SAFETY", *, delay_s: float = 0.0) -> Reply:
        return cls(body={"promptFeedback": {"blockReason": reason}}, delay_s=delay_s)


def _candidate(parts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 1290, "totalTokenCount": 1300},
    }


@dataclass
class Recorded:
    method: str
    path: str
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def prompt(self) -> str:
        """The text of the request (Gemini contents parts, or Imagen instances)."""
        texts = [p.get("text", "") for c in self.body.get("contents", []) for p in c.get("parts", [])]
        texts += [i.get("prompt", "") for i in self.body.get("instances", [])]
        return " ".join(t for t in texts if t)


Matcher = Callable[[Recorded], bool]


@dataclass
class _Rule:
    match: Matcher
    replies: collections.deque[Reply]
    repeat: Reply | None  # served when the queue is empty; None: the rule is used up


@dataclass
class FakeGemini:
    latency_s: float = 0.0
    image_side: int = SIDE  # pixels of the served portraits
    default: Reply = field(default_factory=Reply.image)
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._queue: collections.deque[Reply] = collections.deque()
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._counter = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.in_flight = 0
        self.max_in_flight = 0

    # ---- scripting -----------------------------------------------------------------------------------------
    def enqueue(self, *replies: Reply) -> None:
        """Replies for the next requests, in order (after any matching rule)."""
        with self._lock:
            self._queue.extend(replies)

    def on(self, match: str | Matcher, *replies: Reply, then: Reply | None = None) -> None:
        """Requests whose prompt contains `match` (or for which it returns True) get `replies` in order, then
        `then` (or, when `then` is None and the replies are used up, the normal queue/default)."""
        matcher = (lambda r, s=match: s in r.prompt) if isinstance(match, str) else match
        with self._lock:
            self._rules.append(_Rule(matcher, collections.deque(replies), then))

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self._rules.clear()
            self.requests.clear()

    def _pick(self, request: Recorded) -> Reply:
        with self._lock:
            self.requests.append(request)
            self._counter += 1
            for rule in self._rules:
                if rule.match(request):
                    if rule.replies:
                        return rule.replies.popleft()
                    if rule.repeat is not None:
                        return rule.repeat
            return self._queue.popleft() if self._queue else self.default

    def _next_counter(self) -> int:
        with self._lock:
            self._counter += 1
            return self._counter

    # ---- serving -------------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the server first"
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self) -> FakeGemini:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the real API

            def log_message(self, *args: Any) -> None:  # quiet
                return

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in separate writes; without NODELAY, Nagle adds ~40 ms per reply.
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    body = {}
                request = Recorded("POST", self.path, body, {k.lower(): v for k, v in self.headers.items()})
                with fake._lock:
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    reply = fake._pick(request)
                    delay = fake.latency_s + reply.delay_s
                    if delay:
                        time.sleep(delay)
                    status, payload = fake._render(reply, self.path)
                finally:
                    with fake._lock:
                        fake.in_flight -= 1
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json; charset=UTF-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout, cancellation)
                    self.close_connection = True

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256  # many clients connect at once at high concurrency

        self._server = Server((self.host, self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-gemini", daemon=True)
        self._thread.start()
        return self

    def _render(self, reply: Reply, path: str) -> tuple[int, dict[str, Any]]:
        if reply.kind != "image":
            return reply.status, reply.body or {}
        png = reply.png if reply.png is not None else unique_png(self._next_counter(), self.image_side)
        encoded = base64.b64encode(png).decode()
        if path.endswith(":predict"):  # Imagen (Vertex mode)
            return 200, {"predictions": [{"mimeType": "image/png", "bytesBase64Encoded": encoded}]}
        return 200, _candidate([{"inlineData": {"mimeType": "image/png", "data": encoded}}])

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeGemini:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def fake_gemini() -> Iterator[FakeGemini]:
    """A started fake Gemini server; import this fixture into a conftest or test module to use it."""
    with FakeGemini() as fake:
        yield fake


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a fake Gemini API on 127.0.0.1 until killed.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    parser.add_argument("--side", type=int, default=SIDE, help="pixels of the served square portraits")
    args = parser.parse_args()
    fake = FakeGemini(latency_s=args.latency, port=args.port, image_side=args.side).start()
    unique_png(0, args.side)  # warm the image cache before the first request
    print(fake.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
