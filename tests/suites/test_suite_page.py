"""AppTest of the Models tab's "Evaluate on a suite": the page queues the evaluation job, the worker process it
started runs it (real MediaPipe extraction of the suite's images, real landmark models), and the reloaded page shows
models x domains with each worst domain highlighted, a confusion matrix and the images a model gets wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.auth import Role, User
from core.auth.identity import set_current_user
from core.import_job import IMPORT_KIND, ImportParams
from core.jobs.worker import run_inline
from core.settings import Settings
from core.store import Store
from core.suites.kinds import SUITE_EVALUATION
from core.suites.manage import create_suite
from core.suites.views import WORST
from tests.training.conftest import wait_for_latest_job

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "4_Train.py")


def _models_tab_has_no_suite_yet(at: AppTest) -> bool:
    return any("No evaluation suite yet" in c.value for c in at.caption)


@pytest.mark.slow
def test_evaluate_on_a_suite_from_the_models_tab(
    app_env: Settings,
    trained: tuple[Store, object],
    suite_sets: dict[str, Path],
) -> None:
    store = Store(app_env)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception and _models_tab_has_no_suite_yet(at)

    create_suite(store, "demo", [(d, str(p)) for d, p in suite_sets.items()])
    for domain, path in suite_sets.items():
        run_inline(IMPORT_KIND, ImportParams(path=str(path), kind="folder", suite="demo", domain=domain))

    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert at.selectbox(key="suite_pick").value == "demo"
    assert any("13 test images: web 8, low-res 5" in c.value for c in at.caption)
    at.multiselect(key="suite_models").set_value(["good", "constant"]).run()
    at.button(key="suite_run").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]

    wait_for_latest_job(app_env, SUITE_EVALUATION, "the suite evaluation")

    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if WORST in getattr(d.value, "columns", []))
    assert list(table.index) == ["good", "constant"]
    assert {"web", "low-res", WORST, "worst macro-F1"} <= set(table.columns)
    for model_id, row in table.iterrows():
        scores = row[["web", "low-res"]].astype(float)
        assert row[WORST] == scores.idxmin() and np.isclose(row["worst macro-F1"], scores.min()), model_id
    assert len(at.get("plotly_chart")) >= 1  # the confusion matrix of the chosen model and domain
    # The always-happy model is wrong on every surprise face and on the blank image: its wrong images are listed.
    at.selectbox(key="suite_cm_model").set_value("constant").run()
    at.selectbox(key="suite_cm_domain").set_value("low-res").run()
    wrong = next(d.value for d in at.dataframe if "predicted" in getattr(d.value, "columns", []))
    assert "(no face)" in set(wrong["predicted"]) and "surprise" in set(wrong["label"])
    assert wrong["thumbnail"].str.startswith("data:image/jpeg;base64,").any()
    # The model cards keep the result: the models table shows each model's worst domain on the suite.
    models = next(d.value for d in at.dataframe if "suites (worst domain)" in getattr(d.value, "columns", []))
    for model_id, row in table.iterrows():
        shown = models.loc[models["id"] == model_id, "suites (worst domain)"].item()
        assert shown == f"demo: {row['worst macro-F1']:.3f} ({row[WORST]})"


def test_a_viewer_sees_the_suite_but_cannot_evaluate(
    app_env: Settings, trained: tuple[Store, object], suite_sets: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Evaluating writes into the models' cards: the trainer's role, as for comparisons. A viewer is told so."""
    create_suite(Store(app_env), "demo", [("web", str(suite_sets["web"]))])
    run_inline(IMPORT_KIND, ImportParams(path=str(suite_sets["web"]), kind="folder", suite="demo", domain="web"))
    monkeypatch.setattr("ui.auth.signed_in_user", lambda sidebar=True: _as(User("vera@example.org", Role.VIEWER)))
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert at.selectbox(key="suite_pick").value == "demo"
    assert not any(b.key == "suite_run" for b in at.button)
    monkeypatch.setattr("ui.auth.signed_in_user", lambda sidebar=True: _as(User("tom@example.org", Role.TRAINER)))
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert any(b.key == "suite_run" for b in at.button)


def _as(user: User) -> User:
    set_current_user(user)
    return user
