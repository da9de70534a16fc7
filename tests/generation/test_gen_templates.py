"""Templates expand deterministically, validation names the wrong field, prompts describe facial actions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.generation.prompts import EMOTION_ACTIONS, check_template, render_prompt
from core.generation.templates import (
    FaceAttributes,
    GenerationTemplate,
    TemplateError,
    load_template,
    parse_template,
    persona_id,
)
from core.schema import EMOTIONS

EXAMPLE = Path(__file__).resolve().parents[2] / "templates" / "example_template.json"


def small(**kw: object) -> GenerationTemplate:
    base: dict[str, object] = {
        "ages": ["20-29", "50-59"],
        "sexes": ["woman", "man"],
        "ethnicities": ["Black"],
        "emotions": ["happy", "disgust", "sad"],
    }
    base.update(kw)
    return GenerationTemplate.model_validate(base)


def test_product_expansion_counts_keys_and_personas() -> None:
    t = small(images_per_combination=2)
    items = t.expand()
    assert len(items) == t.item_count() == 2 * 2 * 1 * 3 * 2
    assert len({i.key for i in items}) == len(items)
    # A persona is the combination without its emotion plus the seed: it shows all three emotions.
    personas = {i.persona for i in items}
    assert len(personas) == 2 * 2 * 2
    for persona in personas:
        assert sorted(i.attributes.emotion for i in items if i.persona == persona) == sorted(t.emotions)
    assert t.expand() == items  # stable: a re-expansion finds the same items


def test_sample_expansion_is_seeded_distinct_and_bounded() -> None:
    t = small(expansion="sample", sample_size=5, seed=3)
    a = t.combinations()
    assert len(a) == 5 and len(set(a)) == 5
    assert a == small(expansion="sample", sample_size=5, seed=3).combinations()
    assert a != small(expansion="sample", sample_size=5, seed=4).combinations()
    product = set(small().combinations())
    assert set(a) <= product
    # A sample larger than the product is the product.
    assert len(small(expansion="sample", sample_size=999).combinations()) == len(product)


def test_validation_errors_name_the_field() -> None:
    cases = {
        '{"ages": []}': "ages",
        '{"emotions": ["happy", "bored"]}': "emotions",
        '{"ages": ["60-20"]}': "ages",
        '{"prompt_template": "a photo of {name}"}': "prompt_template",
        '{"prompt_template": "a portrait of a {sex}"}': "prompt_template",
        '{"expansion": "sample"}': "sample_size",
        '{"images_per_combination": 0}': "images_per_combination",
        '{"colour": "red"}': "colour",
    }
    for text, field in cases.items():
        with pytest.raises(TemplateError) as err:
            parse_template(text)
        assert field in str(err.value), (text, str(err.value))


def test_too_large_product_is_refused_with_a_hint() -> None:
    with pytest.raises(ValidationError, match="expansion='sample'"):
        small(ethnicities=[f"e{i}" for i in range(100)], head_poses=[f"p{i}" for i in range(100)])


def test_emotion_synonyms_are_normalised_and_ages_checked() -> None:
    attrs = FaceAttributes(age=" 30 - 39 ", sex="man", ethnicity="White", emotion="Joy")
    assert (attrs.age, attrs.emotion) == ("30-39", "happy")
    with pytest.raises(ValidationError, match="emotion"):
        FaceAttributes(age="30", sex="man", ethnicity="White", emotion="bored")
    a = FaceAttributes(age="30", sex="man", ethnicity="White", emotion="happy")
    b = FaceAttributes(age="30", sex="man", ethnicity="White", emotion="sad")
    assert persona_id(a, 0) == persona_id(b, 0) != persona_id(a, 1)


def test_emotions_are_described_as_facial_action() -> None:
    assert tuple(EMOTION_ACTIONS) == EMOTIONS
    assert "nose wrinkled" in EMOTION_ACTIONS["disgust"] and "upper lip raised" in EMOTION_ACTIONS["disgust"]
    prompt = small(emotions=["disgust"]).expand()[0].prompt
    assert "nose wrinkled" in prompt and "single Black woman" in prompt and "20-29" in prompt
    assert "{" not in prompt
    custom = render_prompt("{emotion}: {expression}", {"emotion": "surprise"})
    assert custom.startswith("surprise: brows raised")
    with pytest.raises(ValueError, match="malformed"):
        check_template("a {sex")


def test_example_template_in_the_repository_loads() -> None:
    t = load_template(EXAMPLE)
    assert t.item_count() == json.loads(EXAMPLE.read_text())["sample_size"]
    with pytest.raises(TemplateError, match="cannot read"):
        load_template(EXAMPLE.with_name("missing.json"))


def test_a_saved_template_round_trips_to_the_same_job_identity() -> None:
    t = small(expansion="sample", sample_size=4, seed=9)
    again = parse_template(t.model_dump_json(indent=2))
    assert again == t and again.fingerprint() == t.fingerprint()
    assert small(seed=1).fingerprint() != small(seed=2).fingerprint()
