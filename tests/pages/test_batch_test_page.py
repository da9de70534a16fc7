"""AppTest of the Batch test page with a real registry model, real MediaPipe and uploaded images and a zip. The
test runs as a job in the job worker the page starts (a real subprocess); a new session shows the result."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.auth import LOCAL_USER
from core.batch_evaluation import BATCH_UPLOADS
from core.imaging import encode_png
from core.jobs import DONE, JobQueue
from core.jobs.worker import wait_for
from core.settings import Settings
from tests.jobs.conftest import wait_until
from tests.live.real_model import save_registry_model

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "7_Batch_Test.py")


@pytest.fixture
def with_model(app_env: Settings, face_variants: list[np.ndarray]) -> Settings:
    save_registry_model(app_env.models_dir, face_variants[:6], app_env)
    return app_env


def zip_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_without_a_model_the_page_explains(app_env: Settings) -> None:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert any("No expression model" in i.value for i in at.info)


def run_job_and_reload(at: AppTest, settings: Settings) -> AppTest:
    """Press Run; the job runs in the worker the dashboard starts (a real subprocess); then a new session (a
    reload) shows its result."""
    at.button(key="bt_run").click().run()
    assert not at.exception, at.exception
    job = JobQueue(settings).latest(BATCH_UPLOADS, LOCAL_USER.id)
    assert job is not None
    assert any(p.proto.text.startswith(f"Job {job.id}") for p in at.get("progress")) or job.finished
    done = wait_for(JobQueue(settings), job.id, timeout_s=180)
    assert done.status == DONE, (done.status, done.error)
    # The worker removes the staged uploads right after it records the job's end.
    wait_until(lambda: not any(upload_root(settings).iterdir()), 30, "the staged uploads to be removed")
    reloaded = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not reloaded.exception, reloaded.exception
    return reloaded


def upload_root(settings: Settings) -> Path:
    from core.batch_uploads import uploads_root

    return uploads_root(settings)


@pytest.mark.slow
def test_labeled_uploads_and_a_zip_give_metrics_table_no_faces_and_csv(
    with_model: Settings, face_variants: list[np.ndarray]
) -> None:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    blank = encode_png(np.full((200, 200, 3), 180, np.uint8))
    uploader = at.file_uploader(key="bt_files")
    uploader.upload("happy_01.png", encode_png(face_variants[7]), "image/png")
    uploader.upload("neutral_02.png", encode_png(face_variants[8]), "image/png")
    uploader.upload("broken.jpg", b"\xff\xd8 not really a jpeg", "image/jpeg")
    uploader.upload("notes.txt.png", b"", "image/png")  # refused at staging (empty), listed, never fatal
    uploader.upload("set.zip", zip_of({"happy/a.png": encode_png(face_variants[9]), "sad/wall.png": blank}))
    at.run()
    at = run_job_and_reload(at, with_model)

    assert any("Skipped notes.txt.png: the file is empty" in w.value for w in at.warning)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Images"] == "5"  # two photos, the broken file and two zip members
    assert metrics["Faces found"] == "3"
    # The model says happy for every smiling photo: 2 of the 3 labeled faces are right.
    assert metrics["Accuracy"] == "66.7%"

    table = at.dataframe[0].value
    assert list(table.columns[:2]) == ["thumbnail", "path"]
    rows = table.set_index("path")
    assert rows.loc["happy_01.png", "predicted"] == "happy" and rows.loc["happy_01.png", "label"] == "happy"
    assert rows.loc["set/sad/wall.png", "label"] == "sad"  # label from the zip's folder
    assert not rows.loc["set/sad/wall.png", "face_found"]
    assert rows.loc["broken.jpg", "error"]  # one bad file is a row with its error; the batch went on
    assert table["thumbnail"].str.startswith("data:image/jpeg;base64,").sum() == 4  # not for the broken file

    no_face = at.dataframe[1].value
    assert set(no_face["path"]) == {"set/sad/wall.png"}  # a bad file is not a face the model missed
    failed = at.dataframe[2].value
    assert list(failed["path"]) == ["broken.jpg"] and list(failed["problem"]) == ["unreadable"]
    assert len(at.get("download_button")) == 1
    assert len(at.get("plotly_chart")) == 1  # the confusion matrix
    assert "Confusion matrix" not in [h.value for h in at.subheader]  # the figure's own title, not twice

    # Results stay on screen across reruns until the next test run.
    at.run()
    assert {m.label: m.value for m in at.metric}["Images"] == "5"


def test_unlabeled_uploads_give_predictions_only(with_model: Settings, face_variants: list[np.ndarray]) -> None:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.file_uploader(key="bt_files").upload("IMG_0001.png", encode_png(face_variants[10]), "image/png")
    at.run()
    at = run_job_and_reload(at, with_model)
    labels = {m.label for m in at.metric}
    assert "Accuracy" not in labels and "Images" in labels
    assert any("No labels" in c.value for c in at.caption)
    assert at.dataframe[0].value["predicted"].tolist() == ["happy"]


def test_nothing_usable_is_not_submitted(with_model: Settings) -> None:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.file_uploader(key="bt_files").upload("notes.zip", b"PK not a zip", "application/zip")
    at.run()
    at.button(key="bt_run").click().run()
    assert not at.exception
    assert any("Skipped notes.zip" in w.value for w in at.warning)
    assert any("None of the uploads" in i.value for i in at.info)
    assert JobQueue(with_model).latest(BATCH_UPLOADS, LOCAL_USER.id) is None
    assert not any(upload_root(with_model).iterdir())  # the half-staged folder is gone too


def test_too_large_and_truncated_images_say_so_not_no_face(
    app_env: Settings, face_variants: list[np.ndarray], astronaut_rgb: np.ndarray
) -> None:
    """The evaluation reads each file as an import does: a header over MAX_IMAGE_PIXELS is "too large", a
    truncated JPEG "unreadable" (OpenCV alone half-decodes it into a grey picture with no face); the page lists
    them apart from the images where no face was found."""
    from core.evaluation import EvalItem, evaluate_items, problem_of
    from core.imaging import encode_jpeg
    from core.inference import Recognizer
    from core.landmarks.extractor import LandmarkExtractor
    from core.models.registry import Registry
    from tests.core.hostile import png_bomb

    folder = app_env.data_root / "bt"
    folder.mkdir(parents=True)
    jpeg = encode_jpeg(astronaut_rgb, quality=90)
    files = {
        "huge.png": png_bomb(20000, 20000),
        "cut.jpg": jpeg[: len(jpeg) // 2],
        "wall.png": encode_png(np.full((200, 200, 3), 180, np.uint8)),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    save_registry_model(app_env.models_dir, face_variants[:6], app_env)
    registry = Registry(app_env.models_dir)
    active = registry.active_id()
    assert active is not None
    with LandmarkExtractor(app_env, mode="image") as extractor:
        recognizer = Recognizer(registry.load(active), extractor)
        result = evaluate_items(recognizer, [EvalItem(folder / n, None) for n in files], settings=app_env)
    errors = dict(result.errors)
    assert problem_of(errors[str(folder / "huge.png")]) == "too large"
    assert problem_of(errors[str(folder / "cut.jpg")]) == "unreadable"
    assert result.no_face == [str(folder / "wall.png")]

    at = AppTest.from_function(_show, args=(result.predictions.to_dict("records"),), default_timeout=60).run()
    assert not at.exception, at.exception
    subheaders = [h.value for h in at.subheader]
    assert "No face found (1)" in subheaders and "Not tested: too large or unreadable (2)" in subheaders
    failed = at.dataframe[2].value.set_index("path")
    assert failed.loc[str(folder / "huge.png"), "problem"] == "too large"
    assert failed.loc[str(folder / "cut.jpg"), "problem"] == "unreadable"


def _show(rows: list[dict[str, object]]) -> None:
    import pandas as pd

    from ui.batch_page import show_batch

    table = pd.DataFrame(rows).assign(thumbnail=None)
    show_batch({"table": table[["thumbnail", *table.columns[:-1]]], "metrics": None, "csv": b"", "refused": []})
