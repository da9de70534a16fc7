"""Training jobs resume after a requeue: a real worker subprocess is killed with SIGKILL once an epoch is
checkpointed, another worker goes on from the checkpoint; the curve so far is readable from another process while
the job runs. Tiny networks and inputs (CPU, seconds)."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from subprocess import Popen
from typing import Any

import numpy as np
import pytest

from core.auth import LOCAL_USER, acting_as
from core.detector.data import samples_from_yolo, yolo_class_map
from core.detector.kinds import DETECTOR_TRAINING
from core.detector.train import DetectorConfig, train_detector
from core.jobs import DONE, QUEUED, RUNNING, JobQueue
from core.jobs.worker import wait_for
from core.models.registry import Registry
from core.settings import Settings
from core.store import Store
from core.training.checkpoint import EpochCheckpoint, job_folder, read_curve
from core.training.resnet_kind import RESNET_TRAINING
from core.yolo import read_yolo_dataset
from tests.jobs.conftest import start_worker, wait_until  # noqa: F401  (start_worker is a fixture)
from tests.torch_data import write_dataset


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _kill_after_first_checkpoint(
    settings: Settings,
    job_id: int,
    start: Callable[..., Popen[bytes]],
    epochs: int,
    sig: signal.Signals = signal.SIGKILL,
) -> list[dict[str, Any]]:
    """Run the job in a worker, read its published curve from here while it runs, kill the worker with `sig` once
    an epoch is checkpointed, and let a second worker finish it. Returns the curve seen before the kill."""
    queue = JobQueue(settings)
    first = start(settings, "--kinds", DETECTOR_TRAINING, RESNET_TRAINING)
    wait_until(lambda: len(read_curve(settings, job_id)) >= 1, 240, "a first checkpointed epoch")
    os.kill(first.pid, sig)
    first.wait(timeout=60)
    seen = read_curve(settings, job_id)
    assert 1 <= len(seen) < epochs, "the job finished before the kill: give it more epochs"
    # SIGKILL: nobody has noticed yet. SIGTERM: the worker handed the job back, and saved no model for it.
    assert queue.get(job_id).status == (RUNNING if sig == signal.SIGKILL else QUEUED)
    assert Registry(settings.models_dir).list() == []
    assert (job_folder(settings, job_id) / "checkpoint.pt").is_file()
    start(settings)
    job = wait_for(queue, job_id, timeout_s=300)
    assert job.status == DONE, (job.status, job.error, job.message)
    assert job.attempts == 2 and job.message.startswith("resumed after a requeue")
    return seen


def _check_resumed(settings: Settings, job_id: int, seen: list[dict[str, Any]], epochs: int) -> dict[str, Any]:
    job = JobQueue(settings).get(job_id)
    result = job.result
    assert result is not None
    assert result["resumed_from_epoch"] >= len(seen) >= 1
    assert result["checkpoint_note"] == f"resuming from the checkpoint after epoch {result['resumed_from_epoch']}"
    history = result["history"]
    assert [h["epoch"] for h in history] == list(range(1, epochs + 1))  # one entry per epoch, none twice
    assert history[: len(seen)] == seen  # the epochs before the kill were kept, not rerun
    # The worker deletes the checkpoint right after it records the job's end.
    wait_until(lambda: not job_folder(settings, job_id).exists(), 30, "the job folder to be removed")
    return result


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_detector_job_resumes_from_its_checkpoint_after_its_worker_dies(
    sig: signal.Signals,
    settings: Settings,
    tmp_path: Path,
    start_worker: Callable[..., Popen[bytes]],  # noqa: F811
) -> None:
    yolo = write_dataset(_mkdir(tmp_path / "yolo"), n_train=8, n_valid=2, size=64)
    epochs = 25
    params = {"yolo": str(yolo), "epochs": epochs, "input_size": 64, "batch_size": 4, "device": "cpu", "threads": 1}
    params["backbone"] = "grid"  # the scratch network: every epoch is a full pass, so a checkpoint comes early
    with acting_as(LOCAL_USER):
        job_id = JobQueue(settings).submit(DETECTOR_TRAINING, params)
    seen = _kill_after_first_checkpoint(settings, job_id, start_worker, epochs, sig)
    result = _check_resumed(settings, job_id, seen, epochs)
    assert [card.id for card in Registry(settings.models_dir).list()] == [result["model_id"]]  # one model, once


@pytest.mark.slow
def test_resnet_job_resumes_from_its_checkpoint_after_sigkill(
    settings: Settings,
    face_store: Store,
    start_worker: Callable[..., Popen[bytes]],  # noqa: F811
) -> None:
    epochs = 4
    params = {
        "epochs": epochs,
        "image_size": 32,
        "batch_size": 4,
        "use_imagenet": False,
        "head_epochs": 0,
        "patience": 0,
        "device": "cpu",
        "threads": 1,
    }
    with acting_as(LOCAL_USER):
        job_id = JobQueue(settings).submit(RESNET_TRAINING, params)
    seen = _kill_after_first_checkpoint(settings, job_id, start_worker, epochs)
    _check_resumed(settings, job_id, seen, epochs)


def test_a_resumed_detector_run_equals_an_uninterrupted_one_and_a_foreign_checkpoint_is_not_used(
    settings: Settings, tmp_path: Path
) -> None:
    ds = read_yolo_dataset(write_dataset(_mkdir(tmp_path / "yolo"), n_train=6, n_valid=2, size=64))
    classes = list(ds.emotions)
    cmap = yolo_class_map(ds.emotions, classes)
    train = samples_from_yolo(ds.splits["train"], cmap, 64)
    val = samples_from_yolo(ds.splits["valid"], cmap, 64)
    config = DetectorConfig(input_size=64, epochs=3, batch_size=3, device="cpu", backbone="grid")
    with acting_as(LOCAL_USER):
        whole = train_detector(train, val, classes, config)

        checkpoint = EpochCheckpoint(tmp_path / "job", "key-a")
        stop = threading.Event()

        def after(stats: Any, _total: int) -> None:
            if stats.epoch == 2:
                stop.set()  # cancelled during epoch 3: epochs 1 and 2 are checkpointed

        cut = train_detector(train, val, classes, config, progress=after, cancel=stop, checkpoint=checkpoint)
        assert cut.cancelled and checkpoint.saved_epoch() == 2
        assert checkpoint.begin() == "resuming from the checkpoint after epoch 2"
        resumed = train_detector(train, val, classes, config, checkpoint=checkpoint)

    assert [h.epoch for h in resumed.history] == [1, 2, 3]
    # The same RNG, optimizer and schedule state: the resumed run retraces the uninterrupted one.
    np.testing.assert_allclose(
        [h.train_loss for h in resumed.history], [h.train_loss for h in whole.history], rtol=1e-4
    )
    other = EpochCheckpoint(tmp_path / "job", "key-b")  # other parameters or data
    assert other.saved_epoch() is None and other.load() is None
    assert "starting over" in other.begin()
    assert not (tmp_path / "job").exists()


def test_read_curve_without_a_job_folder_is_empty(settings: Settings) -> None:
    assert read_curve(settings, 12345) == []


@pytest.mark.slow
def test_on_ray_the_training_task_writes_the_checkpoint(ray_settings: Settings, tmp_path: Path) -> None:
    """With EXECUTOR=ray the training runs as a Ray task; the checkpoint travels with it and is written on the
    shared data root, where a resumed run finds it."""
    ds = read_yolo_dataset(write_dataset(_mkdir(tmp_path / "yolo"), n_train=4, n_valid=2, size=64))
    classes = list(ds.emotions)
    cmap = yolo_class_map(ds.emotions, classes)
    train = samples_from_yolo(ds.splits["train"], cmap, 64)
    val = samples_from_yolo(ds.splits["valid"], cmap, 64)
    config = DetectorConfig(input_size=64, epochs=2, batch_size=2, device="cpu", backbone="grid")
    checkpoint = EpochCheckpoint(job_folder(ray_settings, 7), "key")
    seen: list[int] = []
    with acting_as(LOCAL_USER):
        result = train_detector(
            train,
            val,
            classes,
            config,
            settings=ray_settings,
            checkpoint=checkpoint,
            progress=lambda stats, _total: seen.append(stats.epoch),
        )
        assert seen == [1, 2] and checkpoint.saved_epoch() == 2
        assert [h["epoch"] for h in read_curve(ray_settings, 7)] == [1, 2]
        again = train_detector(train, val, classes, config, settings=ray_settings, checkpoint=checkpoint)
    # Everything was already done: the resumed run trains no epoch and returns the same history.
    assert [h.as_dict() for h in again.history] == [h.as_dict() for h in result.history]
