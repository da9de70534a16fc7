"""JAFFE: everything in the file name (KA.AN1.39.tiff: person, expression)."""

from __future__ import annotations

import re
from pathlib import Path

from core.layouts.common import Source, detect_by_name, read_named
from core.settings import Settings

# fmt: off
JAFFE_CODES = {"AN": "angry", "DI": "disgust", "FE": "fear", "HA": "happy", "NE": "neutral", "SA": "sad",
               "SU": "surprise"}
# fmt: on
JAFFE_NAME = re.compile(r"^([A-Z]{2})\.([A-Z]{2})(\d)\.(\d+)\.tiff?$", re.IGNORECASE)

detect = detect_by_name(JAFFE_NAME)


def read(path: Path, settings: Settings) -> Source:
    return read_named(path, settings, "jaffe", JAFFE_NAME, _fields)


def _fields(m: re.Match[str]) -> dict:
    code = m.group(2).upper()
    if code not in JAFFE_CODES:
        return {"emotion": None, "why": f"unknown JAFFE expression code {code!r} (known: {', '.join(JAFFE_CODES)})"}
    return {"emotion": JAFFE_CODES[code], "person": m.group(1).upper()}
