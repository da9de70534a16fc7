"""Structured logs: one JSON object per line with a timestamp, the level and the component (logger name)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else was passed with `extra=` and is written as a field.
# (uvicorn adds `color_message`, the same text with terminal colours.)
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "component": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD:
                out[key] = value
        if record.exc_info:
            # Server-side only: tracebacks go to the log, never into a response.
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


# uvicorn's own loggers: its error logger prints tracebacks (an exception escaping the app, a protocol error) and
# its access logger a plain-text line per request; both are turned into JSON lines like ours.
_UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def configure_logging(level: str) -> None:
    """Send the project's `core.*` loggers and uvicorn's to stderr as JSON lines, one per record, tracebacks
    included (once; repeated calls only set the level)."""
    logger = logging.getLogger("core")
    logger.setLevel(level.upper())
    if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.propagate = False
    for name in _UVICORN:
        # uvicorn configures these before it imports the app; re-point their handlers (keeping their streams).
        uv = logging.getLogger(name)
        for h in uv.handlers:
            h.setFormatter(JsonFormatter())
