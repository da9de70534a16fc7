"""Prompt text: emotions described as facial actions, and the portrait prompt template with its placeholders."""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Final

# Each emotion as visible facial action (FACS-style), so the image model draws the expression rather than a mood.
EMOTION_ACTIONS: Final[Mapping[str, str]] = {
    "angry": "brows pulled down and together, glaring eyes with tensed lower lids, lips pressed firmly together",
    "disgust": "nose wrinkled, upper lip raised, cheeks pushed up and brows lowered",
    "fear": "brows raised and drawn together, upper eyelids raised wide showing the whites, lips stretched back "
    "horizontally, mouth slightly open",
    "happy": "a genuine smile: lip corners pulled up, cheeks raised, crow's-feet wrinkles at the outer eye corners",
    "neutral": "a relaxed face at rest: no muscle tension, closed relaxed mouth, level brows, calm gaze",
    "sad": "inner corners of the brows raised, lip corners pulled down, slightly drooping upper eyelids, chin "
    "raised and wrinkled",
    "surprise": "brows raised high and curved, eyes wide open, jaw dropped with the mouth open in an O",
    "contempt": "one lip corner tightened and raised on one side only (a unilateral smirk), chin slightly lifted",
}

# Placeholders a prompt template may use; every one is filled for every item.
PLACEHOLDERS: Final[tuple[str, ...]] = (
    "age",
    "sex",
    "ethnicity",
    "emotion",
    "expression",
    "head_pose",
    "lighting",
    "background",
    "glasses",
    "accessories",
)

DEFAULT_PROMPT_TEMPLATE: Final[str] = (
    "A hyper-realistic photograph of a single {ethnicity} {sex}, age {age}: a head-and-shoulders portrait, "
    "{head_pose}, looking at the camera. Facial expression: {emotion}, shown as {expression}. "
    "Glasses: {glasses}. Accessories: {accessories}. Lighting: {lighting}. Background: {background}. "
    "Sharp focus on the face, natural skin texture, no text, no watermark, only one person in the frame."
)


def template_placeholders(template: str) -> list[str]:
    """The field names used in a `str.format` template; raises ValueError on broken braces."""
    return [field for _, field, _, _ in string.Formatter().parse(template) if field is not None]


def check_template(template: str) -> None:
    """Raise ValueError naming unknown or malformed placeholders."""
    try:
        fields = template_placeholders(template)
    except ValueError as exc:
        raise ValueError(f"malformed placeholder braces: {exc}") from None
    unknown = sorted({f for f in fields if f not in PLACEHOLDERS})
    if unknown:
        raise ValueError(
            f"unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}; "
            f"valid: {', '.join('{' + p + '}' for p in PLACEHOLDERS)}"
        )
    if "emotion" not in fields and "expression" not in fields:
        raise ValueError("the template must state the emotion: use {expression} and/or {emotion}")


def render_prompt(template: str, values: Mapping[str, str]) -> str:
    """Fill the template; `expression` is derived from the emotion when not given."""
    filled = {p: str(values.get(p, "") or "") for p in PLACEHOLDERS}
    if not filled["expression"] and filled["emotion"] in EMOTION_ACTIONS:
        filled["expression"] = EMOTION_ACTIONS[filled["emotion"]]
    return " ".join(template.format_map(filled).split())
