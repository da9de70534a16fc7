"""`python -m core al ...` end to end on a real store, registry and the fake Gemini server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.active_learning.review_queue import queue_items
from core.cli import main
from core.imaging import encode_png
from core.settings import Settings
from core.store import Store
from tests.active_learning.helpers import add_labeled, no_face_png
from tests.active_learning.test_simulation import labeled_set
from tests.fakes.gemini_server import FakeGemini, Reply


@pytest.mark.slow
def test_pool_retrain_score_label_simulate(
    app_env: Settings,
    tmp_path: Path,
    face_variants: list[np.ndarray],
    fake_gemini: FakeGemini,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = Store(app_env)
    add_labeled(store, face_variants[:8])
    folder = tmp_path / "random_expressions"
    folder.mkdir()
    for i, rgb in enumerate(face_variants[8:]):
        (folder / f"happy_{i}.png").write_bytes(encode_png(rgb))  # a label-like name stays unlabeled in the pool
    (folder / "empty.png").write_bytes(no_face_png())
    (folder / "broken.jpg").write_bytes(b"not an image")

    assert main(["al", "pool", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "5 added" in out and "1 skipped" in out and "broken.jpg" in out and "1 without a face" in out

    assert main(["al", "retrain", "--make-held-out", "0.25", "--features", "blendshapes", "--activate"]) == 0
    assert "becomes active" in capsys.readouterr().out

    assert main(["al", "score", "-k", "3", "--strategy", "margin"]) == 0
    out = capsys.readouterr().out
    assert "3 queued from 4 scored" in out
    assert len(queue_items(store)) == 3 and all(it.predicted for it in queue_items(store))

    monkeypatch.setenv("GEMINI_API_KEY", "cli-test-key-123")
    monkeypatch.setenv("GEMINI_BASE_URL", fake_gemini.base_url)
    from core.settings import get_settings

    get_settings.cache_clear()
    fake_gemini.default = Reply.json_text({"emotion": "happy", "confidence": 0.8, "rationale": "smile"})
    assert main(["al", "label"]) == 0
    assert "3 proposals, 0 failures" in capsys.readouterr().out
    assert all(it.proposal is not None and it.proposal.emotion == "happy" for it in queue_items(store))

    x, y = labeled_set(300)
    from core.features.raw import split_raw

    lm, bs, tf = split_raw(x)
    npz = tmp_path / "cache.npz"
    np.savez(npz, landmarks=lm, blendshapes=bs, transforms=tf, labels=y, groups=np.arange(len(y)).astype(str))
    assert main(["al", "simulate", "--npz", str(npz), "--rounds", "2", "--initial", "8", "--batch", "8"]) == 0
    out = capsys.readouterr().out
    assert "round\tlabels\tuncertainty\trandom" in out and "\n2\t24\t" in out and "random reaches macro-F1" in out


def test_score_without_a_model_says_what_to_do(app_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["al", "score"]) == 2
    assert "no model to score with" in capsys.readouterr().err


def test_there_is_no_repair_step_any_more(app_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    """Labels never move files, so nothing is left to repair: `al repair` is an unknown step."""
    with pytest.raises(SystemExit) as exit_info:
        main(["al", "repair"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'repair'" in capsys.readouterr().err
