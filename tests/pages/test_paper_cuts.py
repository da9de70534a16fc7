"""The rough edges a new user hit, each checked where it could come back: pages through AppTest on a real store
and registry, figures and tables directly."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from core.auth import LOCAL_USER
from core.imaging import encode_png
from core.landmarks.kinds import EXTRACTION
from core.live.model_choices import FOLLOW_ACTIVE_LABEL
from core.models.registry import ModelCard, Registry
from core.schema import EMOTIONS
from core.settings import PROJECT_ROOT, Settings
from core.store import Store
from core.store.views import NOTE, PROBLEM, problem_table
from core.training.last_comparison import load_last_comparison, save_last_comparison
from core.viz.active import history_figure
from tests.pages.test_home_data_landmarks import wait_for_job
from ui.train_page import registry_table

PAGES = PROJECT_ROOT / "pages"


def page(name: str) -> AppTest:
    return AppTest.from_file(str(PAGES / name), default_timeout=120)


def test_streamlit_config_keeps_the_log_quiet_and_live_fast() -> None:
    config = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text())
    # The watchdog watcher schedules a recursive watch on the repository root, .venv included.
    assert config["server"]["fileWatcherType"] in ("poll", "none")
    # A full gc.collect(2) after every rerun of the Live page's twice-a-second fragment stalled the frame thread.
    assert config["runner"]["postScriptGC"] is False


def test_data_page_separates_problems_from_notes_and_says_where_uploads_went(
    app_env: Settings, astronaut_rgb: np.ndarray
) -> None:
    at = page("1_Data.py").run()
    uploader = at.file_uploader(key="upload_files")
    uploader.upload("IMG_0001.png", encode_png(astronaut_rgb), "image/png")  # no label anywhere: the pool
    uploader.upload("happy_0002.png", encode_png(astronaut_rgb[::-1].copy()), "image/png")  # tag in the name
    tight = np.ascontiguousarray(astronaut_rgb[72:177, 180:271])  # the face touches the border: a note
    uploader.upload("sad_0003.png", encode_png(tight), "image/png")
    uploader.upload("wall_0004.png", encode_png(np.full((200, 200, 3), 170, np.uint8)), "image/png")  # no face
    at.run()
    at.button(key="upload_import").click().run()
    assert not at.exception
    [placed] = [d.value for d in at.dataframe if "went to" in d.value.columns]
    placed = placed.set_index("file")
    assert (
        placed.loc["IMG_0001.png", "went to"] == "unlabeled pool" and "no emotion" in placed.loc["IMG_0001.png", "why"]
    )
    assert placed.loc["happy_0002.png", "went to"] == "training data: happy"
    assert "file name" in placed.loc["happy_0002.png", "why"]

    at.button(key="extract_run").click().run()
    assert not at.exception
    assert wait_for_job(app_env, EXTRACTION).status == "done"  # run by the worker process the page started
    at = page("1_Data.py").run()
    assert not at.exception
    problems, notes = (d.value for d in at.dataframe)  # problems first
    assert list(problems["file"]) == ["wall_0004.png"]
    assert "sad_0003.png" in set(notes["file"]) and "wall_0004.png" not in set(notes["file"])
    assert [e.label for e in at.expander][:2] == [
        "Problems: images without usable landmarks (1)",
        f"Notes: images used with a remark, e.g. a padded tight crop ({len(notes)})",
    ]


def test_problem_table_puts_problems_first(store: Store, astronaut_rgb: np.ndarray) -> None:
    from core.ingest import Incoming, import_items
    from core.landmarks.batch import extract_store

    tight = np.ascontiguousarray(astronaut_rgb[72:177, 180:271])
    items = [
        Incoming("tight.png", encode_png(tight)),
        Incoming("wall.png", encode_png(np.zeros((90, 90, 3), np.uint8))),
    ]
    import_items(store, items)
    extract_store(store, workers=1)
    table = problem_table(store)
    assert list(table["kind"]) == [PROBLEM, NOTE] and list(table["file"]) == ["wall.png", "tight.png"]


def test_manifest_import_of_a_folder_says_so(app_env: Settings, tmp_path: Path) -> None:
    at = page("1_Data.py").run()
    at.text_input(key="server_path").input(str(tmp_path)).run()
    at.radio(key="server_kind").set_value("Manifest CSV").run()
    at.button(key="server_import").click().run()
    assert not at.exception
    assert "is a folder" in at.error[0].value and "IsADirectoryError" not in at.error[0].value


def test_pool_import_refreshes_counts_and_the_extract_button(app_env: Settings, astronaut_rgb: np.ndarray) -> None:
    at = page("5_Active_Learning.py").run()
    assert at.title[0].value == "Active learning"  # as in the menu
    assert at.button(key="al_extract").disabled
    at.file_uploader(key="al_upload").upload("a.png", encode_png(astronaut_rgb), "image/png")
    at.run()
    at.button(key="al_upload_add").click().run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Pool images"] == "1"
    assert not at.button(key="al_extract").disabled
    assert any("Pool import: 1 added" in s.value for s in at.success)
    # Extraction is the Data page's job, run by a worker process (not a process pool inside the web server).
    at.button(key="al_extract").click().run()
    assert not at.exception
    job = wait_for_job(app_env, EXTRACTION)
    assert job.status == "done" and job.started_by == LOCAL_USER.id and job.result is not None
    assert job.worker_id and job.result["ok"] == 1
    at.run()
    assert {m.label: m.value for m in at.metric}["With a face"] == "1"
    assert any("1 processed: 1 faces" in c.value for c in at.caption)  # the job's result, shown in the pool
    assert at.button(key="al_extract").disabled  # nothing pending any more


@dataclass
class _Round:
    n_labels: int
    macro_f1: float
    held_out_hash: str = "abc"
    model_name: str = "svm"


def test_rounds_chart_with_one_point_has_a_sane_x_axis() -> None:
    fig = history_figure([_Round(240, 0.5)])
    low, high = fig.layout.xaxis.range
    assert low == 0 and high > 240 and high - low > 40  # not 239 to 241
    assert history_figure([_Round(10, 0.4), _Round(20, 0.5)]).layout.xaxis.range is None  # Plotly's own


def _card(model_id: str, name: str = "svm") -> ModelCard:
    return ModelCard(id=model_id, kind="landmark", name=name, classes=list(EMOTIONS), library_versions={"p": "1"})


def test_models_tab_marks_the_active_model_with_a_plain_check_mark() -> None:
    table = registry_table([_card("a"), _card("b")], "b")
    assert list(table["active"]) == ["", "✓"]  # no emoji font needed


def test_last_comparison_is_kept_per_user(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    save_last_comparison(registry, "alice@example.org", {"reports": [{"name": "svm"}], "best": "m1"})
    assert load_last_comparison(registry, "alice@example.org") == {"reports": [{"name": "svm"}], "best": "m1"}
    assert load_last_comparison(registry, "bob@example.org") is None
    assert registry.list() == []  # the file is not mistaken for a model
    save_last_comparison(registry, "alice@example.org", {"reports": [], "best": np.int64(3)})
    assert load_last_comparison(registry, "alice@example.org") == {"reports": [], "best": 3}


def _report(name: str, f1: float, model_id: str) -> dict[str, object]:
    return {
        "name": name,
        "feature_sets": ["blendshapes"],
        "cv_mean": f1,
        "cv_std": 0.01,
        "accuracy": f1,
        "macro_f1": f1,
        "labels": ["happy", "sad"],
        "confusion_matrix": [[3, 1], [1, 3]],
        "per_class": {"happy": {"precision": f1, "recall": f1, "f1": f1, "support": 4}},
        "best_params": {},
        "fit_time_s": 1.0,
        "predict_ms_per_sample": 0.1,
        "n_train": 20,
        "n_test": 8,
        "cv": "StratifiedKFold(3)",
        "model_id": model_id,
    }


def test_train_results_survive_a_reload_and_show_the_best_models_confusion_matrix(app_env: Settings) -> None:
    registry = Registry(app_env.models_dir)
    payload = {
        "reports": [_report("random_forest", 0.41, "m-rf"), _report("svm", 0.62, "m-svm")],
        "holdout": "the store's test images",
        "best": "m-svm",
        "activated": False,
        "n_faces": 28,
        "grouped": False,
    }
    save_last_comparison(registry, LOCAL_USER.id, payload)  # what the local user's last run kept
    at = page("4_Train.py").run()  # a new session: nothing in session state
    assert not at.exception
    assert any(h.value == "Results" for h in at.subheader)
    assert at.selectbox(key="train_cm_model").value == "svm"  # the best, not the first listed


def _write_model(registry: Registry, model_id: str) -> None:
    registry.save(_card(model_id), lambda p: p.write_bytes(b"x"))


def test_starter_notice_only_while_nothing_is_trained(app_env: Settings) -> None:
    starter = PROJECT_ROOT / "models" / "starter"
    import shutil

    shutil.copytree(starter, app_env.models_dir / "starter")
    at = page("7_Batch_Test.py").run()
    assert any("no model has been trained yet" in i.value for i in at.info)
    registry = Registry(app_env.models_dir)
    _write_model(registry, "landmark-svm-1")
    at = page("7_Batch_Test.py").run()
    # The page follows the active model, still the starter (training activates nothing by itself).
    assert at.selectbox(key="bt_model").value == FOLLOW_ACTIVE_LABEL and registry.active_id() == "starter"
    assert not any("no model has been trained yet" in i.value for i in at.info)


def test_landmarks_viewer_starts_at_the_first_face_after_a_filter_change(
    app_env: Settings, face_variants: list[np.ndarray]
) -> None:
    from core.ingest import Incoming, import_items
    from core.landmarks.batch import extract_store

    store = Store(app_env)
    names = ["happy_1.png", "happy_2.png", "happy_3.png", "sad_1.png", "sad_2.png"]
    import_items(store, [Incoming(n, encode_png(v)) for n, v in zip(names, face_variants, strict=False)])
    extract_store(store, workers=1)
    at = page("2_Landmarks.py").run()
    for _ in range(2):
        at.button(key="next").click().run()
    assert any(c.value.startswith("Face 3 of 5") for c in at.caption)
    at.multiselect(key="f_emotion").set_value(["sad"]).run()
    assert any(c.value.startswith("Face 1 of 2") for c in at.caption)
