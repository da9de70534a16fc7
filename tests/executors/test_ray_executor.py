"""EXECUTOR=ray on a real Ray cluster gives what the local executor gives: extraction (same landmarks, same
outcomes, saved through the store), grid searches (same best parameters and scores) and active-learning scoring
(same probabilities); an unreachable RAY_ADDRESS is a clear message, not a minute-long hang or a traceback."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from core.executors import fanout
from core.executors.cluster import RayUnavailable, connect
from core.features.raw import faces_to_matrix
from core.imaging import encode_png
from core.landmarks.batch import extract_store
from core.records import FaceData
from core.settings import Settings
from core.store import Store
from core.training.compare import compare_models
from core.training.data import TrainingData

GRID = {"svm": {"clf__C": [0.1, 1.0, 10.0]}, "random_forest": {"clf__n_estimators": [10], "clf__max_depth": [2, None]}}


def _fill(store: Store, variants: list[np.ndarray]) -> None:
    for i, img in enumerate(variants):
        store.add_image(encode_png(img), original_name=f"v{i}.png", emotion="happy", label_source="filename")
    store.add_image(encode_png(variants[0])[:300], original_name="broken.png")  # imports, does not decode


def _spy_actor_pools(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Record each fan-out over Ray actors (the worker class and how many actors), still running the real one."""
    calls: list[tuple[str, int]] = []
    real = fanout.map_on_actors

    def spy(settings: Settings, worker_cls: type, *args: Any, actors: int, **kwargs: Any) -> bool:
        calls.append((worker_cls.__name__, actors))
        return real(settings, worker_cls, *args, actors=actors, **kwargs)

    monkeypatch.setattr(fanout, "map_on_actors", spy)
    return calls


def _faces(store: Store) -> dict[str, FaceData]:
    return {r.original_name: f for r, f in store.faces()}


@pytest.mark.slow
def test_extraction_on_ray_matches_the_local_pool(
    settings: Settings,
    ray_settings: Settings,
    face_variants: list[np.ndarray],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    variants = face_variants[:6]
    local = Store(settings)
    _fill(local, variants)
    local_report = extract_store(local, workers=1)

    remote = Store(ray_settings.model_copy(update={"data_root": tmp_path / "ray-data"}))
    _fill(remote, variants)
    seen: list[tuple[int, int]] = []
    on_ray = _spy_actor_pools(monkeypatch)
    report = extract_store(remote, workers=2, progress=lambda done, total: seen.append((done, total)))
    assert [name for name, _ in on_ray] == ["_ExtractWorker"]  # the rows came from Ray actors, not a local pool

    assert (report.processed, report.ok, report.no_face, report.errors) == (
        local_report.processed,
        local_report.ok,
        local_report.no_face,
        local_report.errors,
    )
    assert report.processed == 7 and seen[0] == (0, 7) and seen[-1] == (7, 7)
    assert remote.pending_extraction_ids() == []  # every row was saved through the store
    want, got = _faces(local), _faces(remote)
    assert set(got) == set(want) and len(got) >= 5
    for name, face in want.items():
        np.testing.assert_allclose(got[name].landmarks, face.landmarks, atol=1e-5)
        np.testing.assert_allclose(got[name].blendshapes, face.blendshapes, atol=1e-5)
    states = {r.original_name: r.extraction.state for r in remote.list_images() if r.extraction is not None}
    assert states["broken.png"] in {"error", "no_face"}

    again = extract_store(remote)  # resumable: nothing is left to do
    assert again.processed == 0


@pytest.mark.slow
def test_grid_search_on_ray_matches_local(
    settings: Settings, ray_settings: Settings, face_variants: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(settings)
    _fill(store, face_variants)
    extract_store(store, workers=1)
    faces = [f for _, f in store.faces()]
    # Plumbing labels (the models need not learn them): alternate faces in two classes.
    y = np.asarray(["happy" if i % 2 else "sad" for i in range(len(faces))])
    data = TrainingData(faces_to_matrix(faces), y, data_hash="ray")

    backends: list[str] = []
    real = fanout.ray_grid_search

    @contextlib.contextmanager
    def spy(settings: Settings) -> Iterator[int]:
        with real(settings) as jobs:
            backends.append(type(joblib.parallel.get_active_backend()[0]).__name__)
            yield jobs

    monkeypatch.setattr(fanout, "ray_grid_search", spy)
    local = compare_models(data, models=["svm", "random_forest"], grids=GRID, folds=2, seed=3, settings=settings)
    assert backends == []  # the local executor never asks for Ray
    backends.clear()
    remote = compare_models(data, models=["svm", "random_forest"], grids=GRID, folds=2, seed=3, settings=ray_settings)
    assert backends == ["RayBackend", "RayBackend"]  # both searches ran on joblib's Ray backend
    for a, b in zip(local.reports, remote.reports, strict=True):
        assert a.name == b.name and a.best_params == b.best_params
        assert a.cv_mean == pytest.approx(b.cv_mean) and a.macro_f1 == pytest.approx(b.macro_f1)


def test_scoring_on_ray_gives_the_same_probabilities(
    ray_settings: Settings, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 8))
    model = LogisticRegression().fit(x, (x[:, 0] + x[:, 1] > 0).astype(int))
    monkeypatch.setattr(fanout, "SCORE_BLOCK_ROWS", 64)  # several blocks, so the rows really fan out
    spread = fanout.predict_proba(ray_settings, model, x)
    np.testing.assert_allclose(spread, np.asarray(model.predict_proba(x)), rtol=1e-12, atol=1e-12)
    assert spread.shape == (300, 2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_ray_address_is_a_clear_message(store: Store) -> None:
    pytest.importorskip("ray")
    port = _free_port()  # nothing listens there
    settings = store.settings.model_copy(update={"executor": "ray", "ray_address": f"127.0.0.1:{port}"})
    with pytest.raises(RayUnavailable, match=rf"unreachable at RAY_ADDRESS=127\.0\.0\.1:{port}.*ray start --head"):
        connect(settings)
    store.add_image(encode_png(np.zeros((64, 64, 3), np.uint8)), original_name="x.png")
    with pytest.raises(RayUnavailable, match="EXECUTOR=local"):  # what the job system reports as the job's error
        extract_store(Store(settings))
    assert Store(settings).pending_extraction_ids() != []  # nothing was lost: it runs once Ray is back


def test_malformed_ray_address(settings: Settings) -> None:
    pytest.importorskip("ray")
    with pytest.raises(RayUnavailable, match="host:port"):
        connect(settings.model_copy(update={"executor": "ray", "ray_address": "not-an-address"}))


@pytest.mark.slow
def test_cancelled_extraction_on_ray_keeps_finished_chunks_and_resumes(
    ray_settings: Settings, face_variants: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from core.landmarks import batch

    monkeypatch.setattr(batch, "CHUNK", 2)
    in_flight = fanout.IN_FLIGHT_PER_ACTOR  # one actor: this many chunks sent before the first result comes back
    images = 2 * (in_flight + 1)  # one chunk more than are ever in flight: it is never sent once cancelled
    store = Store(ray_settings)
    for i, img in enumerate(face_variants[:images]):
        store.add_image(encode_png(img), original_name=f"v{i}.png")
    cancel = threading.Event()
    report = extract_store(store, workers=1, cancel=cancel, progress=lambda done, total: done and cancel.set())
    assert report.cancelled and report.processed == 2 * in_flight  # the chunks already sent finish and are saved
    assert len(store.pending_extraction_ids()) == 2
    rest = extract_store(store, workers=1)
    assert rest.processed == 2 and store.pending_extraction_ids() == []


def test_an_error_on_a_ray_worker_reaches_the_caller_as_it_would_locally(ray_settings: Settings) -> None:
    from core.errors import TrainingDataError

    def train(*, progress: object, cancel: object) -> None:
        raise TrainingDataError("the training images hold no labeled faces")

    with pytest.raises(TrainingDataError) as raised:
        fanout.run_task(ray_settings, train)
    assert str(raised.value) == "the training images hold no labeled faces"  # no remote traceback in the message
