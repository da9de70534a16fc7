"""Job kinds: a name, a pydantic model of its parameters, the role it needs, and the function that runs it.

A run function takes the validated parameters and a `JobContext` (progress, cancel) and returns a JSON-able result
(e.g. the saved model id and a summary). The same function runs in a worker (`python -m core worker`) and inline
in the CLI.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from core.auth import Permission
from core.errors import StudioError
from core.progress import ProgressFn


@dataclass
class JobContext:
    """What a running job sees: where to report progress and whether it should stop.

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


RunFn = Callable[[Any, JobContext], dict[str, Any]]
# Short interactive work (a batch test, scoring, a comparison, an import) must never wait behind long work (training,
# generation, extraction): every supervisor keeps one runner for the short lane alone (core.jobs.supervisor).
Lane = Literal["short", "long"]
SHORT: Lane = "short"
LONG: Lane = "long"


@dataclass(frozen=True)
class JobKind:
    name: str
    title: str  # for people: "Landmark extraction"
    params: type[BaseModel]
    permission: Permission
    run: RunFn
    resumable: bool = False  # a requeued job skips work finished before
    # Called by the worker with (params, job id) once the job is done, failed or cancelled (never when it goes back
    # to the queue): tidying the job's files, e.g. a Batch test's staged uploads, a training job's checkpoint.
    on_finish: Callable[[Any, int], None] | None = None
    # One at a time across the team: a second extraction while one is queued or running would redo the same images.
    exclusive: bool = False
    # One at a time per key: e.g. one run of each generation (two would generate the same items), from the params.
    exclusive_key: Callable[[Any], str] | None = None
    # Called by the supervisor with (params, job id), as the job's starter, after it killed the job's runner (it
    # died, a cancel was not obeyed in time, a timeout): undo what the half-done attempt left, e.g. saved models.
    on_killed: Callable[[Any, int], None] | None = None
    lane: Lane = LONG


class UnknownJobKind(StudioError):
    pass


_KINDS: dict[str, JobKind] = {}


def register(kind: JobKind) -> JobKind:
    _KINDS[kind.name] = kind
    return kind


def get_kind(name: str) -> JobKind:
    _load_builtin()
    try:
        return _KINDS[name]
    except KeyError:
        raise UnknownJobKind(f"unknown job kind {name!r}; known: {', '.join(sorted(_KINDS))}") from None


def all_kinds() -> dict[str, JobKind]:
    _load_builtin()
    return dict(_KINDS)


def kinds_in_lane(lane: Lane) -> list[str]:
    return sorted(name for name, kind in all_kinds().items() if kind.lane == lane)


def _load_builtin() -> None:
    # Importing these modules registers the built-in kinds.
    import core.jobs.active_kinds
    import core.jobs.compare_kinds
    import core.jobs.finetune_kinds
    import core.jobs.import_kinds
    import core.jobs.kinds
    import core.jobs.suite_kinds
    import core.jobs.torch_kinds  # noqa: F401
