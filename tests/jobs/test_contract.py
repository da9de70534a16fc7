"""The job contract: every kind of the catalogue declares Params and Result models and lives outside core.jobs,
importing only the contract from it (so the catalogue imports the kinds without an import circle)."""

from __future__ import annotations

import ast
import importlib
import inspect
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.errors import StudioError
from core.jobs.catalog import all_kinds
from core.jobs.contract import JobContext, Params, Result
from core.jobs.job import Job
from core.landmarks.kinds import ExtractionResult
from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_kind_declares_its_params_and_result() -> None:
    kinds = all_kinds()
    assert len(kinds) >= 17
    for name, kind in kinds.items():
        assert kind.name == name
        assert issubclass(kind.params, Params) and issubclass(kind.result, Result), name
        assert list(inspect.signature(kind.run).parameters) == ["params", "ctx"], name


def _core_imports(path: Path) -> set[str]:
    """Every `core...` module a file imports, at any level (function bodies and TYPE_CHECKING included)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("core"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("core"))
    return found


def test_kinds_live_beside_their_domain_and_import_only_the_contract_from_core_jobs() -> None:
    modules = {importlib.import_module(kind.run.__module__) for kind in all_kinds().values()}
    for module in modules:
        assert not module.__name__.startswith("core.jobs"), module.__name__
        path = Path(str(module.__file__))
        from_jobs = {m for m in _core_imports(path) if m == "core.jobs" or m.startswith("core.jobs.")}
        assert from_jobs <= {"core.jobs.contract"}, (module.__name__, from_jobs)


def test_a_context_builds_the_store_and_registry_of_its_settings_once(settings: Settings) -> None:
    ctx = JobContext(settings=settings)
    assert ctx.store is ctx.store and ctx.store.settings is settings
    assert ctx.registry.root == settings.models_dir
    assert ctx.export_path("x.csv") == settings.exports_dir / "job-inline-x.csv"


def _job(result: dict[str, object] | None) -> Job:
    now = datetime.now(UTC)
    return Job(
        id=7, kind="extraction", params={}, status="done", done=0, total=0, message="", started_by="a",
        started_role="admin", created_at=now, started_at=now, finished_at=now, error="", cancel_requested=False,
        heartbeat_at=now, worker_id=None, attempts=1, result=result,
    )  # fmt: skip


def test_a_result_is_read_as_its_model() -> None:
    assert _job(None).result_as(ExtractionResult) is None
    read = _job({"processed": 3, "ok": 2, "no_face": 1, "errors": 0, "problems": [[5, "no_face", "none"]]})
    assert read.result_as(ExtractionResult) == ExtractionResult(
        processed=3, ok=2, no_face=1, problems=[(5, "no_face", "none")]
    )
    # A field an older version wrote and this one dropped does not stop the rest being read.
    assert _job({"processed": 1, "gone": True}).result_as(ExtractionResult) == ExtractionResult(processed=1)
    with pytest.raises(StudioError, match="job 7's result was written by another version"):
        _job({"processed": "many"}).result_as(ExtractionResult)
