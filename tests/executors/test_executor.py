"""The one Executor, chosen from Settings.executor: inline and local processes give the same extraction (real
MediaPipe on real faces), and a cancel stops sending chunks while the finished ones are kept."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from core.auth import LOCAL_USER, acting_as
from core.executors.executor import Executor, LocalExecutor, executor_for
from core.landmarks.batch import extract_store
from core.settings import Settings
from core.store import Store
from tests.jobs.conftest import fill_store


class Doubler:
    """A chunk worker: built once per worker, then `run` per chunk."""

    def __init__(self, factor: int) -> None:
        self.factor = factor

    def run(self, chunk: list[int]) -> list[int]:
        return [x * self.factor for x in chunk]


def test_the_executor_is_the_one_the_settings_name(settings: Settings) -> None:
    for name, cls in (("inline", Executor), ("local", LocalExecutor)):
        executor = executor_for(settings.model_copy(update={"executor": name}))
        assert type(executor) is cls and executor.name == name


def test_local_processes_map_chunks_like_inline(settings: Settings) -> None:
    chunks = [[i, i + 1] for i in range(0, 20, 2)]
    got: dict[str, list[int]] = {}
    for name in ("inline", "local"):
        out: list[int] = []
        executor = executor_for(settings.model_copy(update={"executor": name}))
        assert not executor.map_chunks(Doubler, (3,), iter(chunks), workers=2, count=len(chunks), on_result=out.extend)
        got[name] = sorted(out)
    assert got["inline"] == got["local"] == [3 * i for i in range(20)]


def test_a_cancel_sends_no_more_chunks(settings: Settings) -> None:
    cancel = threading.Event()
    seen: list[int] = []

    def on_result(rows: list[int]) -> None:
        seen.extend(rows)
        cancel.set()  # after the first finished chunk

    local = executor_for(settings.model_copy(update={"executor": "local"}))
    chunks = ([i] for i in range(10_000))
    assert local.map_chunks(Doubler, (1,), chunks, workers=2, on_result=on_result, cancel=cancel)
    assert 0 < len(seen) < 10_000  # what was sent before the cancel finished; the rest was never sent


def test_inline_and_local_extraction_agree(settings: Settings, tmp_path: Path, face_variants: list[np.ndarray]) -> None:
    reports = {}
    for name in ("inline", "local"):
        store = Store(settings.model_copy(update={"executor": name, "data_root": tmp_path / name}))
        fill_store(store, face_variants, 6)
        with acting_as(LOCAL_USER):
            report = extract_store(store, workers=2)
        assert store.pending_extraction_ids() == []
        reports[name] = (report.processed, report.ok, report.no_face, report.errors)
    assert reports["inline"] == reports["local"] and reports["local"][0] == 6
