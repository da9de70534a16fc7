"""Themed artwork, one SVG per emotion, shipped under `assets/art/` (drawn for this project)."""

from __future__ import annotations

import base64
from functools import lru_cache
from pathlib import Path

from core.errors import UnknownLabel
from core.schema import EMOTIONS
from core.settings import PROJECT_ROOT

ART_DIR = PROJECT_ROOT / "assets" / "art"


def artwork_path(emotion: str) -> Path:
    """The SVG file of an emotion in EMOTIONS; UnknownLabel for anything else (never a path from user input)."""
    if emotion not in EMOTIONS:
        raise UnknownLabel(f"no artwork for {emotion!r}; known emotions: {', '.join(EMOTIONS)}")
    return ART_DIR / f"{emotion}.svg"


@lru_cache(maxsize=len(EMOTIONS))
def artwork_svg(emotion: str) -> str:
    """The SVG text of an emotion's artwork."""
    return artwork_path(emotion).read_text(encoding="utf-8")


def artwork_data_uri(emotion: str) -> str:
    """A `data:` URI of the artwork, for an <img> that needs no file server."""
    encoded = base64.b64encode(artwork_svg(emotion).encode("utf-8")).decode("ascii")
    return f"data:image/svg+xml;base64,{encoded}"


def missing_artwork() -> list[str]:
    """Emotions whose SVG file is absent (empty when the assets are complete)."""
    return [e for e in EMOTIONS if not (ART_DIR / f"{e}.svg").is_file()]
