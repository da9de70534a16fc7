"""AppTest of the home, Data and Landmarks pages on a small real store."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.auth import LOCAL_USER
from core.imaging import encode_png
from core.import_job import IMPORT
from core.jobs import Job, JobQueue
from core.landmarks.batch import extract_store
from core.landmarks.kinds import EXTRACTION
from core.settings import Settings, get_settings
from core.store import Store

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def small_store(app_env: Settings, face_variants: list) -> Store:
    store = Store(app_env)
    for i, emotion in enumerate(["happy", "happy", "sad"]):
        store.add_image(
            encode_png(face_variants[i]), original_name=f"{emotion}_{i}.png", emotion=emotion, label_source="filename"
        )
    store.add_image(encode_png(face_variants[3]), original_name="unlabeled.png")
    extract_store(store, workers=1)
    return store


def test_home_on_empty_store(app_env: Settings) -> None:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    assert not at.exception
    assert any("store is empty" in i.value for i in at.info)


def test_home_shows_counts(small_store: Store) -> None:
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Images"] == "4" and metrics["With landmarks"] == "4"


def test_landmarks_page_filters_and_navigates(small_store: Store) -> None:
    at = AppTest.from_file(str(ROOT / "pages" / "2_Landmarks.py"), default_timeout=60).run()
    assert not at.exception
    assert len(at.dataframe[0].value) == 4
    assert "Face 1 of 4" in at.caption[-1].value
    at.button(key="next").click().run()
    assert at.session_state["viewer_pos"] == 1 and "Face 2 of 4" in at.caption[-1].value
    at.button(key="prev").click().run()
    at.button(key="prev").click().run()
    assert at.session_state["viewer_pos"] == 3  # wraps around
    at.multiselect(key="f_emotion").select("happy").run()
    assert not at.exception
    assert len(at.dataframe[0].value) == 2
    at.toggle(key="prepare_csv").set_value(True).run()
    assert not at.exception
    assert len(at.get("download_button")) == 1


def test_landmarks_page_without_data(app_env: Settings) -> None:
    at = AppTest.from_file(str(ROOT / "pages" / "2_Landmarks.py"), default_timeout=60).run()
    assert not at.exception
    assert "No faces with landmarks" in at.info[0].value


def test_data_page_imports_from_server_path_and_extracts(
    app_env: Settings, tmp_path: Path, face_variants: list
) -> None:
    src = tmp_path / "incoming" / "happy"
    src.mkdir(parents=True)
    for i in range(2):
        (src / f"img{i}.png").write_bytes(encode_png(face_variants[i]))
    (src / "broken.png").write_bytes(b"not really a png")
    at = AppTest.from_file(str(ROOT / "pages" / "1_Data.py"), default_timeout=120).run()
    assert not at.exception
    at.text_input(key="server_path").input(str(tmp_path / "incoming")).run()
    at.button(key="server_import").click().run()
    assert not at.exception
    imported = wait_for_job(app_env, IMPORT)  # a worker the page started reads the folder
    assert imported.status == "done" and imported.result is not None and imported.result["added"] == 2
    at.run()
    assert not at.exception
    assert any("Import finished: 2 added" in s.value for s in at.success)
    assert "1 file(s) skipped" in at.warning[0].value
    at.button(key="extract_run").click().run()
    assert not at.exception
    # The page queued a job and started a real worker process for it; the page itself is not blocked.
    assert any(p.proto.text.startswith("Job ") for p in at.get("progress")) or at.success
    # A reload (a new session, as after closing the tab) finds the job in the database, then its result.
    deadline = time.monotonic() + 120
    while True:
        at = AppTest.from_file(str(ROOT / "pages" / "1_Data.py"), default_timeout=120).run()
        assert not at.exception
        if any("done 2/2" in s.value for s in at.success) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert any("done 2/2" in s.value for s in at.success)
    assert any("2 faces, 0 without a face, 0 errors" in c.value for c in at.caption)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Faces"] == "2" and metrics["Pending"] == "0"


def wait_for_job(settings: Settings, kind: str, timeout: float = 120) -> Job:
    """The local user's latest job of `kind`, once it has finished."""
    queue = JobQueue(settings)
    deadline = time.monotonic() + timeout
    while (job := queue.latest(kind, LOCAL_USER.id)) is None or not job.finished:
        assert time.monotonic() < deadline, f"the {kind} job did not finish in time"
        time.sleep(0.5)
    return job


def test_extraction_under_streamlit_logs_no_missing_context_warnings(
    app_env: Settings,
    tmp_path: Path,
    face_variants: list,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Worker processes used to re-import the running page script as their __main__ and log one "missing
    # ScriptRunContext" warning per st.* call. Two workers: a real process pool, as on a server.
    monkeypatch.setenv("EXTRACT_WORKERS", "2")
    get_settings.cache_clear()
    src = tmp_path / "incoming" / "happy"
    src.mkdir(parents=True)
    for i in range(3):
        (src / f"img{i}.png").write_bytes(encode_png(face_variants[i]))
    at = AppTest.from_file(str(ROOT / "pages" / "1_Data.py"), default_timeout=120).run()
    at.text_input(key="server_path").input(str(src.parent)).run()
    at.button(key="server_import").click().run()
    wait_for_job(app_env, IMPORT)
    at.run()
    capfd.readouterr()
    at.button(key="extract_run").click().run()
    assert not at.exception
    # The extraction is a job run by the worker process the page started; wait for it, then reload the page.
    job = wait_for_job(app_env, EXTRACTION)
    assert job.status == "done", job.error
    at = AppTest.from_file(str(ROOT / "pages" / "1_Data.py"), default_timeout=120).run()
    assert any("3 faces" in c.value for c in at.caption)
    err = capfd.readouterr().err
    log = app_env.data_root / "logs" / "worker.log"
    err += log.read_text() if log.is_file() else ""
    assert "ScriptRunContext" not in err, err[-2000:]
