"""Every page under AppTest as a signed-in viewer, on a store with a queue, a pool, an active model and a finished
comparison: no button that changes data or models or spends the Gemini key is shown (core would refuse it anyway;
the page must not offer it). A trainer sees the ones a viewer does not, so the sweep is not vacuous."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
import pytest
import streamlit_webrtc
from streamlit.testing.v1 import AppTest

from core.auth import Role, User
from core.settings import get_settings
from tests.active_learning.test_page import _setup
from tests.browser.harness import ROOT

VIEWER = User("vera@example.org", Role.VIEWER)
TRAINER = User("tom@example.org", Role.TRAINER)
PAGES = sorted(p.name for p in (ROOT / "pages").glob("*.py"))
# What a viewer may press: page through landmarks, run a batch test (both change nothing stored), and create their
# own API key (the prediction API is theirs to call; keys change no data or model).
VIEWER_BUTTONS = {"prev", "next", "bt_run", "apikeys_create"}


@pytest.fixture
def as_user(signed_in: Callable[[User], None], monkeypatch: pytest.MonkeyPatch) -> Callable[[User], None]:
    # AppTest cannot render the webcam component; the Live page's own tests cover it.
    monkeypatch.setattr(
        streamlit_webrtc, "webrtc_streamer", lambda **_: SimpleNamespace(state=SimpleNamespace(playing=False))
    )
    return signed_in


def _buttons(page: str) -> set[str]:
    at = AppTest.from_file(str(ROOT / "pages" / page), default_timeout=120).run()
    assert not at.exception, (page, at.exception)
    return {str(b.key) for b in at.button if b.key}


def test_a_viewer_sees_no_button_that_changes_anything(
    as_user: Callable[[User], None], face_variants: list[np.ndarray]
) -> None:
    _setup(get_settings(), face_variants)  # a queue, a pool, labeled faces and an active model
    as_user(VIEWER)
    seen = {page: _buttons(page) - VIEWER_BUTTONS for page in PAGES}
    assert all(not keys for keys in seen.values()), seen
    as_user(TRAINER)
    active_learning = _buttons("5_Active_Learning.py")
    assert {"al_simulate", "al_retrain", "al_score", "al_approve"} <= active_learning


def _comparison_script() -> None:
    # Runs inside AppTest: the comparison a finished training saved, its candidate not active.
    from core.training.kinds import LandmarkTrainingResult
    from core.training.promotion import Comparison, ModelScore
    from ui.auth import signed_in_user
    from ui.common import get_registry
    from ui.train_page import comparison_ui

    signed_in_user(sidebar=False)

    comparison = Comparison(
        candidate=ModelScore(model_id="cand", macro_f1=0.9, accuracy=0.9),
        incumbent=None,
        holdout="a held-out set",
        n_images=3,
        image_ids=[1, 2, 3],
        n_disagreements=0,
        disagreements=[],
    )
    comparison_ui(get_registry(), LandmarkTrainingResult(comparison=comparison.model_dump(mode="json")))


@pytest.mark.parametrize(("user", "offered"), [(VIEWER, False), (TRAINER, True)])
def test_make_the_compared_model_active_is_for_those_who_may_activate(
    as_user: Callable[[User], None], user: User, offered: bool
) -> None:
    as_user(user)
    at = AppTest.from_function(_comparison_script, default_timeout=60).run()
    assert not at.exception, at.exception
    assert any("but was not activated" in i.value for i in at.info)  # the section itself is drawn
    assert any(b.key == "train_activate_best_model" for b in at.button) == offered
