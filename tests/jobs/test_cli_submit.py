"""The CLI's two paths for one job kind: `--submit` queues it, `python -m core worker --once` runs it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.jobs import DONE, JobQueue
from core.settings import Settings
from core.store import Store
from tests.jobs.conftest import fill_store


def test_extract_submit_then_worker_once(
    app_env: Settings, face_variants: list[np.ndarray], capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store(app_env)
    fill_store(store, face_variants, 3)
    assert main(["extract", "--submit"]) == 0
    match = re.search(r"queued job (\d+)", capsys.readouterr().out)
    assert match is not None
    job_id = int(match.group(1))
    queue = JobQueue(app_env)
    job = queue.get(job_id)
    assert job.status == "queued" and job.started_by == "operator (cli)"
    assert store.extraction_counts().get("ok", 0) == 0  # nothing ran in the CLI itself

    assert main(["worker", "--once", "--poll", "0.1"]) == 0
    assert queue.get(job_id).status == DONE
    assert store.extraction_counts().get("ok", 0) == 3
    capsys.readouterr()
    assert main(["jobs", "show", str(job_id)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == DONE and shown["result"]["ok"] == 3
    assert main(["jobs", "list"]) == 0
    assert f"{job_id}" in capsys.readouterr().out


def test_extract_inline_runs_the_same_job_code(
    app_env: Settings, face_variants: list[np.ndarray], capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store(app_env)
    fill_store(store, face_variants, 2)
    assert main(["extract"]) == 0
    assert "2 processed: 2 faces" in capsys.readouterr().out
    # Inline is "execute in this process": the same job row and code path as a worker's runner, run here.
    [job] = JobQueue(app_env).recent()
    assert job.status == DONE and job.worker_id is not None and job.worker_id.startswith("inline:")
    assert job.started_by == "operator (cli)" and job.result is not None and job.result["ok"] == 2


def test_threaded_cli_training_runs_as_the_operator_in_team_mode(
    app_env: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Training runs in a thread (Ctrl-C becomes a cancel); that thread must still act as the operator, or team
    mode refuses it with "sign in first" before it looks at the data."""
    from core.settings import get_settings

    monkeypatch.setenv("AUTH_MODE", "team")
    get_settings.cache_clear()
    assert main(["detector", "train", "--from-store", "--epochs", "1"]) != 0
    err = capsys.readouterr().err
    assert "sign in" not in err
    assert "face" in err.lower()  # the store has no labeled faces: the data check ran, as the operator


def test_import_submit_then_worker_once(
    app_env: Settings, face_variants: list[np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.imaging import encode_png

    folder = tmp_path / "incoming" / "surprise"
    folder.mkdir(parents=True)
    for i in range(2):
        (folder / f"s{i}.png").write_bytes(encode_png(face_variants[i]))
    (folder / "junk.png").write_bytes(b"not an image")
    assert main(["import", str(folder.parent), "--submit"]) == 0
    assert Store(app_env).count() == 0  # queued, not run here
    assert main(["worker", "--once", "--poll", "0.1"]) == 0
    (job,) = JobQueue(app_env).recent(kind="import")
    assert job.status == DONE and job.result is not None
    assert job.result["added"] == 2 and job.result["skipped"][0][0] == "surprise/junk.png"
    assert Store(app_env).counts_by("emotion") == {"surprise": 2}
