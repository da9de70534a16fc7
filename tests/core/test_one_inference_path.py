"""One inference path: Live, the REST API, Batch test, `python -m core evaluate` and active-learning scoring give the
same prediction for the same image, because all of them predict through `core.inference.Recognizer`. The shipped
starter model, real MediaPipe, a real photo (`skimage.data.astronaut()`), a real SQLite store and a real CLI process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from streamlit.testing.v1 import AppTest

from core.active_learning.review_queue import QueueItem, build_queue, queue_items
from core.api.factory import create_app
from core.auth import LOCAL_USER
from core.batch_evaluation import BATCH_UPLOADS
from core.imaging import encode_png
from core.ingest import Incoming, import_items
from core.jobs import DONE, JobQueue
from core.jobs.worker import wait_for
from core.landmarks.batch import extract_store
from core.live import FrameProcessor
from core.models.registry import Registry
from core.settings import PROJECT_ROOT, Settings
from core.store import Store

STARTER = PROJECT_ROOT / "models" / "starter"


@pytest.fixture
def starter_env(app_env: Settings) -> Settings:
    shutil.copytree(STARTER, app_env.models_dir / "starter")
    return app_env


@pytest.mark.slow
def _api_face(settings: Settings, png: bytes) -> dict[str, Any]:
    """REST API (its default loader: the registry's active model, the starter here)."""
    with TestClient(create_app(settings), client=("127.0.0.1", 50000)) as client:
        body = client.post("/api/predict", files={"file": ("astronaut.png", png, "image/png")}).json()
    [api_face] = body["faces"]
    return cast(dict[str, Any], api_face)


def _batch_page_row(settings: Settings, png: bytes) -> pd.Series:
    """Batch test page."""
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "7_Batch_Test.py"), default_timeout=120).run()
    at.file_uploader(key="bt_files").upload("astronaut.png", png, "image/png")
    at.run()
    at.button(key="bt_run").click().run()
    assert not at.exception, at.exception
    # The test runs as a job in the worker the page started; a reload shows its result.
    job = JobQueue(settings).latest(BATCH_UPLOADS, LOCAL_USER.id)
    assert job is not None and wait_for(JobQueue(settings), job.id, timeout_s=180).status == DONE
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "7_Batch_Test.py"), default_timeout=120).run()
    return cast(pd.Series, at.dataframe[0].value.set_index("path").loc["astronaut.png"])


def _cli_evaluate_row(settings: Settings, png: bytes, tmp_path: Path) -> pd.Series:
    """`python -m core evaluate`, a real process."""
    folder = tmp_path / "eval"
    folder.mkdir()
    (folder / "surprise_astronaut.png").write_bytes(png)  # labeled, so that a confusion matrix is printed
    out_csv = tmp_path / "predictions.csv"
    env = {**os.environ, "DATA_ROOT": str(settings.data_root), "MODELS_DIR": str(settings.models_dir)}
    cli = subprocess.run(
        [sys.executable, "-m", "core", "evaluate", str(folder), "--out", str(out_csv)],
        cwd=PROJECT_ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    cli_row = pd.read_csv(out_csv).iloc[0]
    header = cli.stdout.split("columns: predicted)\n")[1].splitlines()[0].split()
    assert "surprise" in header  # whole class names, not "surpris"
    return cli_row


def _pool_scored(settings: Settings, png: bytes, model: Any) -> QueueItem:
    """Active-learning scoring of the same image in the pool."""
    store = Store(settings)
    import_items(store, [Incoming("astronaut.png", png)], status="pool", labels_from_names=False)
    extract_store(store, workers=1)
    report = build_queue(store, model, model_id="starter", k=1, min_distance=0.0)
    assert report.queued == 1
    [queued] = queue_items(store)
    return queued


def test_live_api_batch_evaluate_and_pool_scoring_agree(
    starter_env: Settings, astronaut_rgb: np.ndarray, tmp_path: Path
) -> None:
    png = encode_png(astronaut_rgb)
    model = Registry(starter_env.models_dir).load("starter")
    api_face = _api_face(starter_env, png)
    api_proba = api_face["probabilities"]
    batch_row = _batch_page_row(starter_env, png)
    cli_row = _cli_evaluate_row(starter_env, png, tmp_path)
    queued = _pool_scored(starter_env, png, model)

    # Live: the frame path (VIDEO mode on the unpadded frame, no smoothing).
    with FrameProcessor(model, settings=starter_env, smoothing="off") as live:
        _, result = live.process(astronaut_rgb.copy())
    [live_face] = result.faces

    emotion = api_face["emotion"]
    assert batch_row["predicted"] == cli_row["predicted"] == queued.predicted == live_face.emotion == emotion
    # The still-image paths see identical landmarks, so identical probabilities.
    assert batch_row["confidence"] == pytest.approx(api_face["confidence"], abs=1e-5)
    assert cli_row["confidence"] == pytest.approx(api_face["confidence"], abs=1e-5)
    for name, p in api_proba.items():
        assert queued.probabilities[name] == pytest.approx(p, abs=1e-4)
    # Live tracks in VIDEO mode without padding: the same model on nearly the same landmarks.
    for name, p in api_proba.items():
        assert live_face.probabilities[name] == pytest.approx(p, abs=0.1)


def test_pool_scoring_works_with_a_model_that_reads_pixels(store: Store, face_variants: list[np.ndarray]) -> None:
    # Scoring used to refuse every model but landmark models; a model that needs the image (as ResNet and the
    # detector do) now scores the pool from the decoded images, through the same Recognizer.
    from tests.active_learning.helpers import fill_pool, tiny_model

    fill_pool(store, face_variants, n=4)
    base = tiny_model(store)
    seen_shapes: list[tuple[int, ...]] = []

    class PixelModel:
        card = base.card
        needs_landmarks = True
        needs_pixels = True
        whole_image_fallback = False

        def predict_faces(self, rgb, faces):  # type: ignore[no-untyped-def]
            seen_shapes.append(rgb.shape)
            return base.predict_faces(rgb, faces)

    report = build_queue(store, PixelModel(), model_id="pixels", k=10, min_distance=0.0)  # type: ignore[arg-type]
    assert report.scored == report.queued + len(report.near_duplicates) > 0 and report.unscored == 0
    assert all(len(s) == 3 and s[0] > 50 for s in seen_shapes)  # real decoded images, one at a time
    assert {it.predicted for it in queue_items(store)} <= {"happy", "neutral", "sad"}


def test_a_model_that_needs_landmarks_refuses_to_predict_without_a_landmarker(astronaut_rgb: np.ndarray) -> None:
    from core.inference import Recognizer
    from tests.live.real_model import BlendshapeModel

    class Unfitted(BlendshapeModel):
        def __init__(self) -> None:
            from core.models.registry import ModelCard

            self.card = ModelCard(id="m", kind="landmark", name="x", classes=["happy"])

    with pytest.raises(ValueError, match="needs landmarks"):
        Recognizer(Unfitted()).predict(astronaut_rgb)
    assert Recognizer(Unfitted()).predict_stored([], lambda i: astronaut_rgb) == []
