"""KDEF: everything in the file name (AF01ANS.JPG: session, person, expression, angle)."""

from __future__ import annotations

import re
from pathlib import Path

from core.layouts.common import Source, detect_by_name, read_named
from core.settings import Settings

# fmt: off
KDEF_CODES = {"AF": "fear", "AN": "angry", "DI": "disgust", "HA": "happy", "NE": "neutral", "SA": "sad",
              "SU": "surprise"}
# fmt: on
KDEF_NAME = re.compile(r"^([AB])([FM])(\d\d)([A-Z]{2})(S|HL|HR|FL|FR)\.jpe?g$", re.IGNORECASE)

detect = detect_by_name(KDEF_NAME)


def read(path: Path, settings: Settings) -> Source:
    return read_named(path, settings, "kdef", KDEF_NAME, _fields)


def _fields(m: re.Match[str]) -> dict:
    code = m.group(4).upper()
    if code not in KDEF_CODES:
        return {"emotion": None, "why": f"unknown KDEF expression code {code!r} (known: {', '.join(KDEF_CODES)})"}
    # A and B are two sessions of the same person: the person is gender and number.
    return {"emotion": KDEF_CODES[code], "person": f"{m.group(2)}{m.group(3)}".upper(),
            "session": m.group(1).upper(), "angle": m.group(5).upper()}  # fmt: skip
