"""Themed artwork, one SVG per emotion, shipped under `assets/art/` (drawn for this project)."""

from __future__ import annotations

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
