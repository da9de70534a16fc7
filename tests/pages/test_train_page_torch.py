"""AppTest of the Train page's torch sections: ResNet and detector training in the background, curves, activation."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.auth import LOCAL_USER, acting_as
from core.detector.kinds import DETECTOR_TRAINING, PIPELINE_COMPARISON_KIND
from core.imaging import encode_png
from core.jobs import Job, JobQueue
from core.jobs.worker import run_inline
from core.landmarks.extractor import LandmarkExtractor
from core.models.registry import Registry
from core.settings import Settings, get_settings
from core.store import Store
from core.training.checkpoint import read_curve
from core.training.kinds import MODEL_COMPARISON
from core.training.resnet_kind import RESNET_TRAINING

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "4_Train.py")


def _wait(at: AppTest, kind: str, timeout: float = 180.0) -> Job:
    """Wait for the job the page submitted (run by the worker process the page started), then rerun the page."""
    queue = JobQueue(get_settings())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = queue.latest(kind, LOCAL_USER.id)
        assert job is not None, "the page submitted no job"
        if job.finished:
            at.run()
            return job
        time.sleep(0.5)
    raise AssertionError("the training job did not finish in time")


@pytest.mark.slow
def test_resnet_section_trains_from_scratch(app_env: Settings, face_variants: list[np.ndarray]) -> None:
    store = Store(app_env)
    with LandmarkExtractor(app_env) as extractor:
        for i, rgb in enumerate(face_variants[:4]):
            added = store.add_image(encode_png(rgb), emotion="happy" if i % 2 else "sad", label_source="human")
            out = extractor.extract(rgb)
            store.save_extractions([(added.image_id, out.state, "", out.num_faces, out.face)])
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    at.radio(key="image_backbone").set_value("ResNet-50").run()  # the image tab opens on face-api's network
    assert any("ImageNet weights" in w.value for w in at.warning) or any("ImageNet" in s.value for s in at.success)
    at.number_input(key="resnet_epochs").set_value(1)
    at.selectbox(key="resnet_size").select(96)
    at.number_input(key="resnet_batch").set_value(2)
    at.run()
    if not at.button(key="resnet_start").disabled:  # weights present on this machine: fine-tune path
        pass
    else:
        at.checkbox(key="resnet_scratch").check().run()
    at.button(key="resnet_start").click().run()
    assert not at.exception
    job = _wait(at, RESNET_TRAINING)
    assert job.status == "done", job.error
    assert not at.exception
    assert job.result is not None and len(job.result["history"]) == 1
    model_id = job.result["model_id"]
    assert any(model_id in s.value for s in at.success)
    # A new session (a reload, or the server restarted) still shows the result and can activate it.
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.radio(key="image_backbone").set_value("ResNet-50").run()
    assert any(model_id in s.value for s in at.success)
    # Four faces are too few to hold some out: the job's comparison says so, and so does one asked for on the page.
    assert "too few labeled faces" in job.result["activation_message"]
    at.button(key="torch_job_resnet_compare").click().run()
    comparing = _wait(at, MODEL_COMPARISON)  # a worker runs it: the page only follows the job
    assert comparing.params["candidate_id"] == model_id and comparing.status == "failed"
    assert not at.exception and any("too few labeled faces" in e.value for e in at.error)
    at.button(key="torch_job_resnet_activate").click().run()
    assert Registry(app_env.models_dir).active_id() == model_id


@pytest.mark.slow
@pytest.mark.usefixtures("app_env")
def test_detector_section_trains_on_a_yolo_folder(synthetic_yolo: Path, app_env: Settings) -> None:
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    at.text_input(key="det_yolo").input(str(synthetic_yolo)).run()
    at.number_input(key="det_epochs").set_value(2)
    at.selectbox(key="det_size").select(128)
    at.number_input(key="det_batch").set_value(4)
    at.button(key="det_start").click().run()
    assert not at.exception
    job = _wait(at, DETECTOR_TRAINING)
    assert job.status == "done", job.error
    assert job.result is not None and [h["epoch"] for h in job.result["history"]] == [1, 2]
    card = Registry(app_env.models_dir).card(job.result["model_id"])
    assert card.kind == "detector" and card.params["input_size"] == 128
    assert card.data_hash  # the page and the CLI share one recipe: the page's detector records its data too
    assert any("mAP@0.5" in s.value for s in at.success)
    # No landmark model yet: the comparison explains what it needs instead of failing.
    assert any("comparison needs" in i.value for i in at.info)
    # The comparison's job code, as the page submits it (here with the detector alone), on the dataset's images.
    compared = run_inline(PIPELINE_COMPARISON_KIND, {"dataset": str(synthetic_yolo), "models": {"det": card.id}})
    (score,) = compared.scores
    assert score.name == "det" and score.model_id == card.id and score.images > 0


def test_detector_section_reads_yolo_folders_only_under_import_roots(
    synthetic_yolo: Path, app_env: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    monkeypatch.setenv("IMPORT_ROOTS", str(inbox))
    get_settings.cache_clear()
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert at.text_input(key="det_yolo").value == ""  # no default outside the roots
    at.text_input(key="det_yolo").input(str(synthetic_yolo)).run()
    assert not at.exception
    assert any("outside the import folders" in e.value for e in at.error)
    assert not any(b.key == "det_start" for b in at.button)  # nothing to train on: the folder was never read
    (inbox / "yolo").symlink_to(synthetic_yolo, target_is_directory=True)  # a link inside that points out
    at.text_input(key="det_yolo").input(str(inbox / "yolo")).run()
    assert any("outside the import folders" in e.value for e in at.error)
    assert not any(b.key == "det_start" for b in at.button)


@pytest.mark.slow
def test_the_detector_curve_grows_on_the_page_while_the_job_runs(synthetic_yolo: Path, app_env: Settings) -> None:
    """The job publishes its curve after every epoch; the Train page (a new session each time, as a reload or the
    panel's refresh) plots the epochs so far while the job still runs in the worker the page started."""
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at.text_input(key="det_yolo").input(str(synthetic_yolo)).run()
    at.number_input(key="det_epochs").set_value(300)  # far more than the test waits for: it is cancelled
    at.selectbox(key="det_size").select(128)
    at.number_input(key="det_batch").set_value(4)
    at.button(key="det_start").click().run()
    queue = JobQueue(app_env)
    job = queue.latest(DETECTOR_TRAINING, LOCAL_USER.id)
    assert job is not None

    def points_on_page() -> int:
        page = AppTest.from_file(PAGE, default_timeout=60).run()
        assert not page.exception
        charts = [c for c in page.get("plotly_chart") if "epochs so far" in c.proto.spec]
        if not charts:
            return 0
        spec = json.loads(charts[0].proto.spec)
        return max(len(trace.get("x", [])) for trace in spec["data"])

    deadline = time.monotonic() + 180
    while len(read_curve(app_env, job.id)) < 1:
        assert time.monotonic() < deadline and not queue.get(job.id).finished, "no epoch was published"
        time.sleep(0.2)
    first = points_on_page()
    assert first >= 1
    target = len(read_curve(app_env, job.id)) + 2
    while len(read_curve(app_env, job.id)) < target:
        assert time.monotonic() < deadline, "the job stopped publishing epochs"
        time.sleep(0.2)
    assert queue.get(job.id).status == "running"
    assert points_on_page() > first  # the curve grew while the job ran
    with acting_as(LOCAL_USER):
        queue.request_cancel(job.id)
    deadline = time.monotonic() + 120
    while not queue.get(job.id).finished:
        assert time.monotonic() < deadline, "the cancel was not honoured"
        time.sleep(0.2)
