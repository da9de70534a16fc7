"""AppTest of the Batch test page with a real registry model, real MediaPipe and uploaded images and a zip."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.imaging import encode_png
from core.settings import Settings
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
    uploader.upload("set.zip", zip_of({"happy/a.png": encode_png(face_variants[9]), "sad/wall.png": blank}))
    at.run()
    at.button(key="bt_run").click().run()
    assert not at.exception, at.exception

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
    assert rows.loc["broken.jpg", "error"]
    assert table["thumbnail"].str.startswith("data:image/jpeg;base64,").sum() == 4  # not for the broken file

    no_face = at.dataframe[1].value
    assert set(no_face["path"]) == {"set/sad/wall.png", "broken.jpg"}
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
    at.button(key="bt_run").click().run()
    assert not at.exception
    labels = {m.label for m in at.metric}
    assert "Accuracy" not in labels and "Images" in labels
    assert any("No labels" in c.value for c in at.caption)
    assert at.dataframe[0].value["predicted"].tolist() == ["happy"]
