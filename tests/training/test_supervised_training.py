"""Landmark training under the supervised pool (`python -m core worker` in real subprocesses, real SQLite, real
scikit-learn): `kill -9` of the runner or of the supervisor while training leaves no process behind, and the
registry ends with the models of one complete attempt, never a killed attempt's model beside the rerun's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.auth import LOCAL_USER, acting_as
from core.features import DEFAULT_FEATURE_SETS
from core.jobs import DONE, JobQueue
from core.jobs.worker import wait_for
from core.models.registry import Registry
from core.records import FaceData
from core.settings import Settings
from core.store import Store
from core.training.kinds import LANDMARK_TRAINING, LandmarkTrainingParams
from tests.jobs.conftest import ROOT, wait_until, worker_env
from tests.jobs.proctree import group, processes, runners_of
from tests.training.conftest import fill_store

pytestmark = pytest.mark.slow  # kills real process trees and waits for their jobs: seconds each

MODELS = ["logistic_regression", "random_forest"]
# The forest's grid is large enough that the kill lands while it is searched, after the first model was saved.
GRIDS = {"random_forest": {"clf__n_estimators": [300], "clf__min_samples_leaf": [1, 2, 3, 4, 5, 6, 7, 8]}}


@pytest.fixture
def supervisors(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def _start(settings: Settings, procs: list[subprocess.Popen[bytes]], log: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "core", "worker", "--poll", "0.2", "--concurrency", "1"],
        cwd=ROOT,
        env=worker_env(settings),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    procs.append(proc)
    return proc


@pytest.mark.parametrize("victim", ["runner", "supervisor"])
def test_kill_9_while_training_leaves_one_set_of_models_and_no_process(
    victim: str,
    settings: Settings,
    tmp_path: Path,
    variant_faces: list[tuple[bytes, FaceData, str]],
    supervisors: list[subprocess.Popen[bytes]],
) -> None:
    fill_store(Store(settings), variant_faces)
    queue, registry = JobQueue(settings), Registry(settings.models_dir)
    params = LandmarkTrainingParams(models=MODELS, feature_sets=list(DEFAULT_FEATURE_SETS), grids=GRIDS)
    with acting_as(LOCAL_USER):
        job_id = queue.submit(LANDMARK_TRAINING, params)
    first = _start(settings, supervisors, tmp_path / "first.log")
    wait_until(lambda: any(c.job_id == job_id for c in registry.list()), 240, "the first model to be saved")
    [runner] = runners_of(first.pid)
    members = group(runner)
    os.kill(runner if victim == "runner" else first.pid, signal.SIGKILL)
    assert queue.get(job_id).status != DONE, "the job finished before the kill: make the grid larger"
    wait_until(lambda: not group(runner), 60, "the killed attempt's processes to go")
    if victim == "supervisor":
        first.wait(timeout=30)
        _start(settings, supervisors, tmp_path / "second.log")  # e.g. restarted by the team's service manager
    job = wait_for(queue, job_id, timeout_s=400)
    assert job.status == DONE, job
    assert job.attempts == 2
    cards = [c for c in registry.list() if c.job_id == job_id]
    assert sorted(c.name for c in cards) == sorted(MODELS)  # one of each: the killed attempt's model is gone
    assert job.result is not None and {c.id for c in cards} == {r["model_id"] for r in job.result["reports"]}
    assert not (members & set(processes()))
