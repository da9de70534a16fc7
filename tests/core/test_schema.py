"""The names of core.schema are the only spelling of statuses, sources, label sources and extraction states, and
only the store writes its tables (these checks used to run at import time in generation and approval)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core import schema

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("prefix", "vocabulary"),
    [
        ("STATUS_", schema.STATUSES),
        ("SOURCE_", schema.SOURCES),
        ("LABEL_", schema.LABEL_SOURCES),
        ("EXTRACTION_", schema.EXTRACTION_STATES),
    ],
)
def test_every_named_value_is_in_its_vocabulary_once(prefix: str, vocabulary: tuple[str, ...]) -> None:
    named = {
        name: value
        for name, value in vars(schema).items()
        if name.startswith(prefix) and isinstance(value, str) and name != "EXTRACTION_PENDING"
    }
    assert sorted(named.values()) == sorted(vocabulary) and len(set(vocabulary)) == len(vocabulary)


def test_pending_is_never_a_stored_extraction_state() -> None:
    assert schema.EXTRACTION_PENDING not in schema.EXTRACTION_STATES
    assert set(schema.TRAINABLE_STATUSES) <= set(schema.STATUSES)


# An UPDATE, INSERT or DELETE statement on the store's tables.
_WRITE = re.compile(r"\b(update|insert|delete)\((ImageRecord|Extraction)\b")


def test_only_the_store_writes_its_tables() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "core").rglob("*.py"))
        if "store" not in path.relative_to(ROOT / "core").parts[:1]
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if _WRITE.search(line)
    ]
    assert offenders == [], "write through Store methods (transition, transition_many, update, ...)"
