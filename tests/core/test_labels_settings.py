"""Label normalisation and configuration."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from core.errors import UnknownLabel
from core.labels import label_for_path, label_from_filename, normalize_label
from core.settings import Settings


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Happy", "happy"),
        ("anger", "angry"),
        ("surprised", "surprise"),
        ("FEARFUL", "fear"),
        ("happiness", "happy"),
        ("sadness", "sad"),
        ("contempt", "contempt"),
    ],
)
def test_synonyms_map_onto_the_vocabulary(raw: str, expected: str) -> None:
    assert normalize_label(raw) == expected


def test_unknown_label_is_reported_not_guessed() -> None:
    with pytest.raises(UnknownLabel, match="unknown emotion label 'bored'"):
        normalize_label("bored")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("happy_0042.jpg", "happy"),
        ("surprise-12.png", "surprise"),
        ("Anger_7.JPG", "angry"),
        ("IMG_0001.jpg", None),
        ("Candice_Bergen_0003.jpg", None),
    ],
)
def test_filename_tag(name: str, expected: str | None) -> None:
    assert label_from_filename(name) == expected


def test_folder_label_and_precedence() -> None:
    assert label_for_path(PurePosixPath("sad/IMG_1.jpg")).emotion == "sad"
    assert label_for_path(PurePosixPath("sad/IMG_1.jpg")).source == "folder"
    guess = label_for_path(PurePosixPath("sad/happy_1.jpg"))
    assert (guess.emotion, guess.source) == ("happy", "filename")
    unknown = label_for_path(PurePosixPath("misc/IMG_1.jpg"))
    assert unknown.emotion is None and "misc" in (unknown.warning or "")
    assert label_for_path(PurePosixPath("IMG_1.jpg")).emotion is None


def test_settings_from_environment_and_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.setenv("GOOGLE_API_KEY", "k-from-env")
    monkeypatch.setenv("DATA_ROOT", str(tmp_path / "d"))
    monkeypatch.setenv("ICE_SERVERS", '[{"urls": ["stun:stun.example.org:3478"]}]')
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.gemini_api_key is not None and s.gemini_api_key.get_secret_value() == "k-from-env"
    assert "k-from-env" not in repr(s)  # secrets never appear in reprs or logs
    assert s.resolved_database_url == f"sqlite:///{tmp_path / 'd' / 'studio.db'}"
    assert s.ice_servers == [{"urls": ["stun:stun.example.org:3478"]}]

    monkeypatch.delenv("GOOGLE_API_KEY")
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text('GEMINI_API_KEY = "k-from-secrets"\n')
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.gemini_api_key is not None and s.gemini_api_key.get_secret_value() == "k-from-secrets"


def test_placeholder_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "changeme")
    with pytest.raises(ValueError, match="placeholder"):
        Settings(_env_file=None)  # type: ignore[call-arg]
