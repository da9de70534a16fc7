"""Label normalisation: file-name tags, folder names and synonyms onto the one emotion vocabulary."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath

from core.errors import UnknownLabel
from core.schema import EMOTION_SYNONYMS, EMOTIONS

_TOKEN = re.compile(r"[a-z]+")


def normalize_label(raw: str) -> str:
    """Map a raw label (any case, synonyms allowed) onto EMOTIONS; raise UnknownLabel otherwise."""
    key = raw.strip().lower()
    if key in EMOTIONS:
        return key
    if key in EMOTION_SYNONYMS:
        return EMOTION_SYNONYMS[key]
    raise UnknownLabel(f"unknown emotion label {raw!r}; known labels: {', '.join(EMOTIONS)}")


def try_normalize(raw: str) -> str | None:
    """normalize_label, or None when the word is not a known label."""
    try:
        return normalize_label(raw)
    except UnknownLabel:
        return None


def label_from_filename(name: str) -> str | None:
    """The seed's tag convention: the emotion leads the file name (`happy_0042.jpg`, `surprise-12.png`)."""
    tokens = _TOKEN.findall(PurePath(name).stem.lower())
    return try_normalize(tokens[0]) if tokens else None


@dataclass(frozen=True)
class LabelGuess:
    emotion: str | None
    source: str | None  # "filename", "folder" or None
    warning: str | None = None  # set when a folder name looked like a label but is not in the vocabulary


def label_for_path(relative: PurePath) -> LabelGuess:
    """Label of a file found under an import root: its file-name tag, else its parent folder's name, else none."""
    tagged = label_from_filename(relative.name)
    if tagged:
        return LabelGuess(tagged, "filename")
    if len(relative.parts) >= 2:
        folder = relative.parts[-2]
        from_folder = try_normalize(folder)
        if from_folder:
            return LabelGuess(from_folder, "folder")
        return LabelGuess(None, None, f"folder {folder!r} is not a known emotion; imported unlabeled")
    return LabelGuess(None, None)
