"""Pydantic models of a generation run: face attributes, the template that expands into items, and a job's view."""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import re
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.errors import StudioError
from core.generation.prompts import DEFAULT_PROMPT_TEMPLATE, check_template, render_prompt
from core.labels import normalize_label
from core.schema import EMOTIONS, GEN_PENDING, GEN_RUNNING, GENERATION_STATES

MAX_ITEMS = 20_000  # a guard against an accidental product of long lists
_RANGE = re.compile(r"^\s*(\d{1,3})\s*-\s*(\d{1,3})\s*$")


class TemplateError(StudioError):
    """A template file that cannot be read or does not validate; the message names the wrong fields."""


def _check_age(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("age must not be empty")
    match = _RANGE.match(value)
    if match:
        lo, hi = int(match.group(1)), int(match.group(2))
        if lo > hi or hi > 120:
            raise ValueError(f"age range {value!r} must be low-high with high <= 120")
        return f"{lo}-{hi}"
    if value.isdigit() and int(value) > 120:
        raise ValueError(f"age {value!r} is not plausible")
    return value


def _check_emotion(value: str) -> str:
    try:
        return normalize_label(value)
    except ValueError as exc:
        raise ValueError(str(exc)) from None


class FaceAttributes(BaseModel):
    """What one portrait shows. Age is a bucket ("young adult") or a range ("20-29")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    age: str
    sex: str
    ethnicity: str
    emotion: str
    head_pose: str | None = None
    lighting: str | None = None
    background: str | None = None
    glasses: str | None = None
    accessories: str | None = None

    @field_validator("age")
    @classmethod
    def _age(cls, v: str) -> str:
        return _check_age(v)

    @field_validator("emotion")
    @classmethod
    def _emotion(cls, v: str) -> str:
        return _check_emotion(v)

    @field_validator("sex", "ethnicity")
    @classmethod
    def _non_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be empty")
        return v.strip()

    def persona_key(self) -> dict[str, str | None]:
        """Everything but the emotion: the same persona shows several expressions."""
        return self.model_dump(exclude={"emotion"})


def _non_empty_list(values: list[str]) -> list[str]:
    cleaned = [v.strip() for v in values if v and v.strip()]
    if not cleaned:
        raise ValueError("needs at least one value")
    if len(set(cleaned)) != len(cleaned):
        raise ValueError("contains duplicate values")
    return cleaned


class ItemSpec(BaseModel):
    """One image to generate, fully determined by the template (so re-expanding it finds the same items)."""

    key: str  # unique within a job: persona plus emotion
    position: int
    attributes: FaceAttributes
    persona: str
    seed: int
    prompt: str


class GenerationTemplate(BaseModel):
    """Lists of values per attribute, expanded as a full product or a seeded random sample."""

    model_config = ConfigDict(extra="forbid")

    name: str = "portraits"
    ages: list[str] = Field(default_factory=lambda: ["20-29", "30-44", "45-60"])
    sexes: list[str] = Field(default_factory=lambda: ["woman", "man"])
    ethnicities: list[str] = Field(default_factory=lambda: ["East Asian", "Black", "White", "South Asian"])
    emotions: list[str] = Field(default_factory=lambda: list(EMOTIONS))
    head_poses: list[str] = Field(default_factory=lambda: ["frontal view"])
    lightings: list[str] = Field(default_factory=lambda: ["soft even studio lighting"])
    backgrounds: list[str] = Field(default_factory=lambda: ["plain light grey background"])
    glasses: list[str] = Field(default_factory=lambda: ["no glasses"])
    accessories: list[str] = Field(default_factory=lambda: ["none"])

    expansion: Literal["product", "sample"] = "product"
    sample_size: int | None = Field(default=None, ge=1, description="Combinations drawn when expansion='sample'.")
    images_per_combination: int = Field(default=1, ge=1, le=100)
    seed: int = Field(default=0, ge=0)
    prompt_template: str = DEFAULT_PROMPT_TEMPLATE
    output_size: int = Field(default=512, ge=64, le=4096, description="Longest side in pixels after generation.")
    aspect_ratio: Literal["1:1", "3:4", "4:3", "9:16", "16:9"] = "1:1"
    model: str | None = Field(default=None, description="Image model; default: Settings.gemini_image_model.")

    @field_validator("ages")
    @classmethod
    def _ages(cls, v: list[str]) -> list[str]:
        return _non_empty_list([_check_age(a) for a in v])

    @field_validator("emotions")
    @classmethod
    def _emotions(cls, v: list[str]) -> list[str]:
        return _non_empty_list([_check_emotion(e) for e in v])

    @field_validator("sexes", "ethnicities", "head_poses", "lightings", "backgrounds", "glasses", "accessories")
    @classmethod
    def _lists(cls, v: list[str]) -> list[str]:
        return _non_empty_list(v)

    @field_validator("prompt_template")
    @classmethod
    def _prompt(cls, v: str) -> str:
        check_template(v)
        return v

    @model_validator(mode="after")
    def _sizes(self) -> GenerationTemplate:
        if self.expansion == "sample" and self.sample_size is None:
            raise ValueError("sample_size is required when expansion is 'sample'")
        if self.item_count() > MAX_ITEMS:
            raise ValueError(
                f"the template expands to {self.item_count()} images, more than {MAX_ITEMS}; "
                "use expansion='sample' or shorter lists"
            )
        return self

    # ---- expansion -------------------------------------------------------------------------------------------
    def _axes(self) -> list[list[str]]:
        return [
            self.ages,
            self.sexes,
            self.ethnicities,
            self.emotions,
            self.head_poses,
            self.lightings,
            self.backgrounds,
            self.glasses,
            self.accessories,
        ]

    def combination_total(self) -> int:
        total = 1
        for axis in self._axes():
            total *= len(axis)
        return total

    def combination_count(self) -> int:
        total = self.combination_total()
        return min(total, self.sample_size or total) if self.expansion == "sample" else total

    def item_count(self) -> int:
        return self.combination_count() * self.images_per_combination

    def combinations(self) -> list[FaceAttributes]:
        """The attribute combinations, in a stable order (the product's, or a seeded sample of it)."""
        axes = self._axes()
        if self.expansion == "product":
            picks = list(itertools.product(*axes))
        else:
            # Draw indices of the product and decode them (mixed radix), so a huge product is never built.
            total = self.combination_total()
            indices = sorted(random.Random(self.seed).sample(range(total), self.combination_count()))
            picks = []
            for index in indices:
                combo = []
                for axis in reversed(axes):
                    index, r = divmod(index, len(axis))
                    combo.append(axis[r])
                picks.append(tuple(reversed(combo)))
        names = ("age", "sex", "ethnicity", "emotion", "head_pose", "lighting", "background", "glasses", "accessories")
        return [FaceAttributes(**dict(zip(names, combo, strict=True))) for combo in picks]

    def expand(self) -> list[ItemSpec]:
        """Every image of the run. The persona id hashes the combination without its emotion plus the seed."""
        items: list[ItemSpec] = []
        for combo in self.combinations():
            for replica in range(self.images_per_combination):
                seed = self.seed + replica
                persona = persona_id(combo, seed)
                values = {k: v or "" for k, v in combo.model_dump().items()}
                items.append(
                    ItemSpec(
                        key=f"{persona}:{combo.emotion}",
                        position=len(items),
                        attributes=combo,
                        persona=persona,
                        seed=seed,
                        prompt=render_prompt(self.prompt_template, values),
                    )
                )
        return items

    def fingerprint(self) -> str:
        """Identity of the run: the same template resumes the same job."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def persona_id(attributes: FaceAttributes, seed: int) -> str:
    payload = json.dumps({"a": attributes.persona_key(), "seed": seed}, sort_keys=True)
    return "gen-" + hashlib.sha1(payload.encode()).hexdigest()[:12]


def describe_validation_error(exc: ValidationError) -> str:
    """One line per wrong field: `field.path: message`."""
    lines = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "template"
        lines.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(lines)


def parse_template(text: str) -> GenerationTemplate:
    """Validate template JSON; raises TemplateError naming the wrong fields."""
    try:
        return GenerationTemplate.model_validate_json(text)
    except ValidationError as exc:
        raise TemplateError(f"invalid template: {describe_validation_error(exc)}") from None


def load_template(path: Path) -> GenerationTemplate:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"cannot read template {path}: {exc.strerror or exc}") from None
    return parse_template(text)


class GenerationItem(BaseModel):
    """One item of a job as stored."""

    id: int
    key: str
    position: int
    persona: str
    emotion: str
    prompt: str
    file_name: str
    state: str
    reason: str = ""
    attempts: int = 0
    image_id: int | None = None
    seed: int = 0
    attributes: dict[str, str | None] = Field(default_factory=dict)

    @field_validator("state")
    @classmethod
    def _state(cls, v: str) -> str:
        if v not in GENERATION_STATES:
            raise ValueError(f"unknown state {v!r}; valid: {', '.join(GENERATION_STATES)}")
        return v


class GenerationJob(BaseModel):
    """A job with its template, item counts by state and (optionally) its items."""

    id: int
    name: str
    template: GenerationTemplate
    created_at: datetime
    counts: dict[str, int]
    items: list[GenerationItem] = Field(default_factory=list)
    started_by: str = ""  # who started its latest run ("" for jobs from before identities were recorded)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def finished(self) -> bool:
        return self.counts.get(GEN_PENDING, 0) == 0 and self.counts.get(GEN_RUNNING, 0) == 0
