"""The job contract: what every job kind declares and what a running job sees.

A kind is a name, a `Params` model (what it is asked), a `Result` model (what it returns), the role it needs and the
function that runs it. The kinds live beside their domain (e.g. `core.generation.kinds`) and import only this module
from `core.jobs`; `core.jobs.catalog` lists them all. Pages and the CLI read a finished job's `Result` fields
(`Job.result_as`), never string keys of a dict.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from core.auth import Permission
from core.errors import StudioError
from core.progress import ProgressFn
from core.settings import Settings, get_settings

if TYPE_CHECKING:
    from core.models.registry import Registry
    from core.store import Store

# How a trained model is promoted (core.training.promotion.ActivationPolicy, spelled out so listing kinds stays cheap).
Activation = Literal["never", "if_better", "always"]


class Params(BaseModel):
    """A kind's parameters; the CLI's flags are built from these fields (core.cli.params)."""

    # A field the code no longer knows makes the job's parameters invalid, rather than silently ignored.
    model_config = ConfigDict(extra="forbid")


class Result(BaseModel):
    """A kind's result, stored as JSON in the job row and read back with `Job.result_as`."""

    # A result written by an older version may carry fields this one dropped: reading it must still work.
    model_config = ConfigDict(extra="ignore")


class PromotionResult(Result):
    """What a training job's result says of its model's comparison with the active one."""

    model_id: str | None = None  # None: nothing was saved (a run handed back to the queue)
    activated: bool = False
    activation_message: str = ""
    comparison: dict[str, Any] | None = None  # core.training.promotion.Comparison as JSON


class TrainedModelResult(PromotionResult):
    """What every torch training job's result has (the Train page shows any of them alike)."""

    metrics: dict[str, Any] | None = None  # the validation metrics of the saved epoch; None without validation
    history: list[dict[str, Any]] = Field(default_factory=list)  # one row per epoch (its as_dict)


@dataclass
class JobContext:
    """What a running job sees: where to report progress, whether it should stop, and the settings, store and
    model registry it works on (the worker's; built on first use, so a kind that needs no store opens none).

    `cancel` is a `threading.Event` because the core functions already take one; the worker sets it when the
    job's cancel flag is raised in the database."""

    job_id: int | None = None
    attempt: int = 1  # above 1: a requeued job (resumable kinds skip what is done)
    cancel: threading.Event = field(default_factory=threading.Event)
    on_progress: ProgressFn | None = None
    done: int = 0
    total: int = 0
    message: str = ""
    # In memory only, never in the job row: a Gemini key typed into a page for its session (see ui.jobs.run_here).
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    # Set with `cancel` when the worker shuts down (SIGTERM): the job goes back to the queue to be resumed, so it
    # must not finish as if cancelled (e.g. save a "cancelled" model that the resumed run would save again).
    handing_back: threading.Event = field(default_factory=threading.Event)
    settings: Settings = field(default_factory=get_settings, repr=False)

    @cached_property
    def store(self) -> Store:
        from core.store import Store

        return Store(self.settings)

    @cached_property
    def registry(self) -> Registry:
        from core.models.registry import Registry

        return Registry(self.settings.models_dir)

    def progress(self, done: int, total: int, message: str = "", /) -> None:
        self.done, self.total = done, total
        if message:
            self.message = message
        if self.on_progress is not None:
            self.on_progress(done, total, self.message)

    def cancelled(self) -> bool:
        return self.cancel.is_set()

    def handed_back(self) -> bool:
        return self.handing_back.is_set()

    def export_path(self, name: str) -> Path:
        """A file of this job in the exports folder (`job-<id>-<name>`), its folder made."""
        out = self.settings.exports_dir / f"job-{self.job_id or 'inline'}-{name}"
        out.parent.mkdir(parents=True, exist_ok=True)
        return out


P = TypeVar("P", bound=Params)
R = TypeVar("R", bound=Result)
# Short interactive work (a batch test, scoring, a comparison, an import) must never wait behind long work (training,
# generation, extraction): every supervisor keeps one runner for the short lane alone (core.jobs.supervisor).
Lane = Literal["short", "long"]
SHORT: Lane = "short"
LONG: Lane = "long"


@dataclass(frozen=True)
class JobKind(Generic[P, R]):
    name: str
    title: str  # for people: "Landmark extraction"
    params: type[P]
    result: type[R]
    permission: Permission
    run: Callable[[P, JobContext], R]
    resumable: bool = False  # a requeued job skips work finished before
    # Called by the worker with (params, context) once the job is done, failed or cancelled (never when it goes back
    # to the queue): tidying the job's files, e.g. a Batch test's staged uploads, a training job's checkpoint.
    on_finish: Callable[[P, JobContext], None] | None = None
    # One at a time across the team: a second extraction while one is queued or running would redo the same images.
    exclusive: bool = False
    # One at a time per key: e.g. one run of each generation (two would generate the same items), from the params.
    exclusive_key: Callable[[P], str] | None = None
    # Called by the supervisor with (params, context), as the job's starter, after it killed the job's runner (it
    # died, a cancel was not obeyed in time, a timeout): undo what the half-done attempt left, e.g. saved models.
    on_killed: Callable[[P, JobContext], None] | None = None
    lane: Lane = LONG


class UnknownJobKind(StudioError):
    pass
