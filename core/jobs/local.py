"""The dashboard's own worker: in the default local set-up `streamlit run` stays the only command, so the dashboard
starts one `python -m core worker` (a supervisor of job runners) when no worker has sent a heartbeat lately
(START_WORKER=false turns this off for teams that run their workers separately). It exits after
LOCAL_WORKER_IDLE_EXIT_S without a job."""

from __future__ import annotations

import fcntl
import logging
import os
import subprocess
import sys
import time

from core.jobs.queue import JobQueue, pid_alive
from core.settings import PROJECT_ROOT, Settings, get_settings

log = logging.getLogger("core.jobs.local")

# A worker started this recently may not have written its first heartbeat yet: don't start another.
SPAWN_GRACE_S = 30.0
# The dashboard's worker outlives a restart of the web server, but not the dashboard itself for long: with no job for
# this long it exits (the next page that needs one starts it again), so a closed laptop dashboard leaves nothing.
LOCAL_WORKER_IDLE_EXIT_S = 600

_children: list[subprocess.Popen[bytes]] = []  # held so they are reaped, not left as zombies


def ensure_local_worker(settings: Settings | None = None) -> int | None:
    """Start a detached worker when none is alive; returns its pid, or None when none was needed (or allowed)."""
    settings = settings or get_settings()
    if not settings.start_worker:
        return None
    queue = JobQueue(settings)
    if queue.live_workers():
        return None
    for child in list(_children):
        if child.poll() is not None:
            _children.remove(child)
    settings.data_root.mkdir(parents=True, exist_ok=True)
    stamp = settings.data_root / "worker.spawn"
    # Several sessions (or dashboard processes on one data root) may look at once: one of them starts it.
    with open(settings.data_root / "worker.spawn.lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            pid_text, started = stamp.read_text().split()
            if pid_alive(int(pid_text)) and time.time() - float(started) < SPAWN_GRACE_S:
                return None
        except (OSError, ValueError):
            pass
        if queue.live_workers():
            return None
        env = dict(os.environ)
        env.update(
            DATA_ROOT=str(settings.data_root),
            MODELS_DIR=str(settings.models_dir),
            DATABASE_URL=settings.resolved_database_url,
        )
        log_dir = settings.data_root / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        with open(log_dir / "worker.log", "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "core", "worker", "--idle-exit", str(LOCAL_WORKER_IDLE_EXIT_S)],
                cwd=PROJECT_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # outlives a restart of the web server; Ctrl-C there does not reach it
            )
        _children.append(proc)
        tmp = stamp.with_suffix(".tmp")
        tmp.write_text(f"{proc.pid} {time.time()}")
        tmp.replace(stamp)
    log.info("started a job worker (pid %s) for the dashboard; its log: %s", proc.pid, log_dir / "worker.log")
    return proc.pid
