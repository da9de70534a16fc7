"""The supervised pool (`python -m core worker`): a supervisor runs each job in a runner process of its own.

Each runner (`python -m core.jobs.runner`) leads its own process group, so everything the job starts (an extraction
pool and its forkserver, a Ray driver, torch's loaders) can be killed at once with the group. The supervisor:
- keeps `concurrency` runners for any job plus one for the short lane alone, so a batch test never waits behind
  training (lanes are declared on each JobKind);
- heartbeats for its jobs while their runners live, and requeues jobs of dead workers (stale heartbeats);
- kills a job's group when its runner exits (leftovers), when it dies (the job is requeued at once, or failed after
  MAX_ATTEMPTS), when a cancel is not obeyed within JOB_CANCEL_GRACE_S, and when it runs past JOB_TIMEOUT_S;
- gives each runner the read end of a pipe only it holds the write end of: when the supervisor dies, even by
  `kill -9`, the runner reads end-of-file and kills its own group, so nothing of it is left behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.auth import acting_as
from core.jobs.catalog import get_kind, kinds_in_lane
from core.jobs.contract import LONG, SHORT, JobContext, Lane
from core.jobs.queue import Job, JobQueue
from core.jobs.tables import CANCELLED, FAILED, RUNNING
from core.jobs.worker import SWEEP_EVERY_S, Worker, new_worker_id
from core.settings import PROJECT_ROOT

log = logging.getLogger("core.jobs.supervisor")

MAX_ATTEMPTS = 3  # a job whose runner died this many times fails, rather than crash-looping
STOP_GRACE_S = 20.0  # on SIGTERM, how long runners get to hand their jobs back before their groups are killed


def kill_group(pgid: int, sig: int = signal.SIGKILL) -> None:
    """Signal every process left in a runner's group (no error when none is left)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


@dataclass
class Slot:
    """One runner place: `lane` SHORT takes short jobs only, None takes any."""

    index: int
    lane: Lane | None
    proc: subprocess.Popen[bytes] | None = None
    job: Job | None = None
    watch_fd: int | None = None  # the write end of the runner's pipe: closing it (or dying) tells the runner
    started: float = 0.0
    cancel_seen: float | None = None
    verdict: tuple[str, str] | None = None  # (status, message) the supervisor decided: cancel by force, timeout


class Supervisor:
    def __init__(self, queue: JobQueue, *, concurrency: int | None = None, kinds: Sequence[str] = ()) -> None:
        self.queue = queue
        self.settings = queue.settings
        self.kinds = tuple(kinds)
        self.id = new_worker_id()
        n = max(1, concurrency or os.cpu_count() or 1)
        self.slots = [Slot(0, SHORT)] + [Slot(i + 1, None) for i in range(n)]
        self.stopping = False

    def slot_id(self, slot: Slot) -> str:
        return f"{self.id}/{slot.index}"

    def _claimable(self, slot: Slot) -> list[str]:
        lanes = [SHORT] if slot.lane == SHORT else [SHORT, LONG]
        names = [k for lane in lanes for k in kinds_in_lane(lane)]
        return [k for k in names if not self.kinds or k in self.kinds]

    # --- the loop ---------------------------------------------------------------------------------------------

    def run(self, *, once: bool = False, poll_s: float = 2.0, idle_exit_s: float | None = None) -> int:
        """Supervise runners until SIGTERM/SIGINT; with `once`, until one job ran; with `idle_exit_s`, until no
        job came for that long. Returns the number of jobs started."""
        for kind in self.kinds:
            get_kind(kind)  # an unknown --kinds name is refused up front
        host = socket.gethostname()
        started = 0
        swept = float("-inf")
        last_busy = time.monotonic()
        log.info("supervisor %s started: %d runner(s) + 1 for short jobs", self.id, len(self.slots) - 1)
        try:
            while not self.stopping:
                try:
                    self.queue.worker_alive(self.id, host, os.getpid(), self.kinds)
                    self.queue.requeue_stale()
                    if time.monotonic() - swept > SWEEP_EVERY_S:
                        swept = time.monotonic()
                        Worker(self.queue).sweep()
                    for slot in self.slots:
                        if slot.proc is not None:
                            self._watch(slot)
                    if not (once and started):
                        for slot in self.slots:
                            claimable = self._claimable(slot)  # empty: --kinds left this slot's lane nothing
                            if slot.proc is None and not self.stopping and claimable:
                                job = self.queue.claim(self.slot_id(slot), claimable)
                                if job is not None:
                                    self._spawn(slot, job)
                                    started += 1
                                    if once:
                                        break
                except Exception:  # a database hiccup must not end the supervisor (and with it every job)
                    log.warning("supervisor %s: a round failed; trying again", self.id, exc_info=True)
                busy = any(s.proc is not None for s in self.slots)
                if busy:
                    last_busy = time.monotonic()
                elif once and started:
                    break
                elif idle_exit_s is not None and time.monotonic() - last_busy >= idle_exit_s:
                    log.info("supervisor %s: no job for %.0f s, exiting", self.id, idle_exit_s)
                    break
                self._sleep(min(poll_s, 0.5) if busy else poll_s)
        finally:
            self._stop_all()
            self.queue.worker_gone(self.id)
            log.info("supervisor %s stopped after %d job(s)", self.id, started)
        return started

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.1, seconds))

    # --- one runner -----------------------------------------------------------------------------------------

    def _spawn(self, slot: Slot, job: Job) -> None:
        read_fd, write_fd = os.pipe()
        os.set_inheritable(read_fd, True)
        log_dir = self.settings.data_root / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        with open(log_dir / f"job-{job.id}.log", "ab") as out:
            slot.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "core.jobs.runner",
                    "--job",
                    str(job.id),
                    "--worker-id",
                    self.slot_id(slot),
                    "--watch-fd",
                    str(read_fd),
                ],
                cwd=PROJECT_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                pass_fds=(read_fd,),
                start_new_session=True,  # its own process group: killed as one
            )
        os.close(read_fd)
        slot.job, slot.watch_fd, slot.started = job, write_fd, time.monotonic()
        slot.cancel_seen, slot.verdict = None, None
        log.info("job %s (%s) runs in runner %s (pid %s)", job.id, job.kind, self.slot_id(slot), slot.proc.pid)

    def _watch(self, slot: Slot) -> None:
        assert slot.proc is not None and slot.job is not None
        code = slot.proc.poll()
        if code is not None:
            self._reap(slot, code)
            return
        job_id, wid = slot.job.id, self.slot_id(slot)
        try:
            self.queue.touch(job_id, wid)
            current = self.queue.get(job_id)
        except Exception:  # a database hiccup: look again next round
            log.warning("job %s: supervisor could not reach the database", job_id, exc_info=True)
            return
        now = time.monotonic()
        if current.status != RUNNING or current.worker_id != wid:
            return  # closed (the runner exits next) or requeued elsewhere: the runner stops at its next beat
        if current.cancel_requested:
            slot.cancel_seen = slot.cancel_seen or now
            if now - slot.cancel_seen > self.settings.job_cancel_grace_s:
                message = f"cancelled: stopped by force after {self.settings.job_cancel_grace_s:.0f} s"
                self._kill(slot, (CANCELLED, message))
        elif now - slot.started > self.settings.job_timeout_s:
            self._kill(
                slot, (FAILED, f"timed out after {self.settings.job_timeout_s:.0f} s; its processes were killed")
            )

    def _kill(self, slot: Slot, verdict: tuple[str, str]) -> None:
        assert slot.proc is not None
        log.warning("job %s: %s", slot.job.id if slot.job else "?", verdict[1])
        slot.verdict = verdict
        kill_group(slot.proc.pid)

    def _reap(self, slot: Slot, code: int) -> None:
        """The runner exited: kill what is left of its group, then settle its job if the runner did not."""
        assert slot.proc is not None and slot.job is not None
        kill_group(slot.proc.pid)
        if slot.watch_fd is not None:
            os.close(slot.watch_fd)
        job, wid, verdict = slot.job, self.slot_id(slot), slot.verdict
        slot.proc, slot.job, slot.watch_fd = None, None, None
        try:
            current = self.queue.get(job.id)
        except Exception:
            log.warning("job %s: could not read it after its runner exited", job.id, exc_info=True)
            return
        if current.status != RUNNING or current.worker_id != wid:
            return  # the runner closed or handed back its job, as it should
        self._undo(current)
        if verdict is not None:
            self.queue.finish(
                job.id, wid, verdict[0], message=verdict[1], error="" if verdict[0] == CANCELLED else verdict[1]
            )
            return
        how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
        when = time.strftime("%H:%M:%S", time.gmtime())
        if current.cancel_requested:
            self.queue.finish(job.id, wid, CANCELLED, message=f"cancelled; its runner ended ({how}) at {when} UTC")
        elif current.attempts >= MAX_ATTEMPTS:
            error = f"its runner died {current.attempts} times (last: {how} at {when} UTC); see the worker's log"
            self.queue.finish(job.id, wid, FAILED, message="failed", error=error)
        else:
            log.warning("job %s: runner %s died (%s); requeued", job.id, wid, how)
            self.queue.release(
                job.id, wid, f"requeued: runner {wid} died ({how}) at {when} UTC at {current.done}/{current.total}"
            )

    def _undo(self, job: Job) -> None:
        """The kind's clean-up of a killed attempt (e.g. the models it saved), as the job's starter."""
        try:
            spec = get_kind(job.kind)
            if spec.on_killed is not None:
                with acting_as(Worker(self.queue).starter(job)):
                    ctx = JobContext(job_id=job.id, attempt=job.attempts, settings=self.settings)
                    spec.on_killed(spec.params.model_validate(job.params), ctx)
        except Exception:  # tidying must never stop the supervisor
            log.warning("job %s: undoing its killed attempt failed", job.id, exc_info=True)

    def _stop_all(self) -> None:
        """SIGTERM: runners hand their jobs back to the queue; any still there after STOP_GRACE_S are killed."""
        live = [s for s in self.slots if s.proc is not None]
        for slot in live:
            assert slot.proc is not None
            with contextlib.suppress(ProcessLookupError):
                slot.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for slot in live:
            assert slot.proc is not None
            try:
                slot.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                kill_group(slot.proc.pid)
                slot.proc.wait()
            self._reap(slot, slot.proc.returncode)


def run_supervisor(
    queue: JobQueue | None = None,
    *,
    concurrency: int | None = None,
    once: bool = False,
    poll_s: float = 2.0,
    kinds: Sequence[str] = (),
    idle_exit_s: float | None = None,
) -> int:
    """`python -m core worker`: SIGTERM or Ctrl-C hands the running jobs back to the queue and exits."""
    supervisor = Supervisor(queue or JobQueue(), concurrency=concurrency, kinds=kinds)

    def stop(_signum: int, _frame: Any) -> None:
        supervisor.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return supervisor.run(once=once, poll_s=poll_s, idle_exit_s=idle_exit_s)
