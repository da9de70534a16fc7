"""`python -m core generate` in a real subprocess: interrupted with Ctrl-C, killed with SIGKILL mid-job, then resumed:
nothing lost, no duplicates."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.cli import main
from core.db import dispose_engine
from core.generation.jobs import JobStore
from core.jobs import JobQueue
from core.schema import EMOTIONS, GEN_DONE, GEN_FAILED, GEN_RUNNING
from core.settings import Settings
from core.store import Store
from tests.fakes.gemini_server import FakeGemini

ROOT = Path(__file__).resolve().parents[2]
KEY = "AIzaFAKE-cli-key-5521"


def job_exists(db: Path) -> bool:
    if not db.exists():
        return False
    try:
        with contextlib.closing(sqlite3.connect(db, timeout=5)) as conn:
            return bool(conn.execute("SELECT count(*) FROM generation_items").fetchone()[0])
    except sqlite3.OperationalError:  # tables not there yet
        return False


def cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "core", "generate", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # A shell's background jobs ignore SIGINT, and Python keeps that; restore it so Ctrl-C can be tested.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


TOTAL = 2 * 2 * len(EMOTIONS)


def _write_template(tmp_path: Path) -> Path:
    template = tmp_path / "template.json"
    template.write_text(
        json.dumps(
            {
                "ages": ["20-29", "50-59"],
                "sexes": ["woman", "man"],
                "ethnicities": ["Black"],
                "emotions": list(EMOTIONS),  # 2 x 2 x 1 x 8 = TOTAL items: enough slack to interrupt mid-job
                "output_size": 96,
            }
        )
    )
    return template


def _cli_env(tmp_path: Path, data_root: Path, fake_gemini: FakeGemini) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if k not in {"GOOGLE_API_KEY", "DATABASE_URL"}},
        "PYTHONPATH": str(ROOT),
        "DATA_ROOT": str(data_root),
        "MODELS_DIR": str(tmp_path / "models"),
        "GEMINI_API_KEY": KEY,
        "GEMINI_BASE_URL": fake_gemini.base_url,
        "GEMINI_CONCURRENCY": "2",
        "GEMINI_RPM": "100000",
    }


def _interrupt_after(
    template: Path, env: dict[str, str], tmp_path: Path, watcher: JobStore, done: int, sig: signal.Signals
) -> subprocess.Popen[str]:
    """Start the CLI, wait until `done` items of job 1 are done, then send it `sig`."""
    proc = cli(["--template", str(template)], env, tmp_path)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if job_exists(Path(env["DATA_ROOT"]) / "studio.db") and watcher.counts(1)[GEN_DONE] >= done:
                break
            assert proc.poll() is None, proc.communicate()[0]
            time.sleep(0.05)
        else:
            pytest.fail("the job made no progress")
        os.kill(proc.pid, sig)
        proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc


def _check_resumed_run(
    store: Store, jobs: JobStore, fake_gemini: FakeGemini, output: str, requests_before: int, done_at_kill: int
) -> None:
    """The resumed run finished the job: every item once, no duplicate images, only the missing items asked for."""
    assert KEY not in output
    assert f"{TOTAL}/{TOTAL} done, 0 failed" in output  # the job's result, as the inline job code returned it
    counts = jobs.counts(1)
    assert counts[GEN_DONE] == TOTAL and counts[GEN_FAILED] == 0
    items = jobs.items(1)
    records = [r for r in store.list_images() if r.source == "generated"]
    assert len(records) == TOTAL  # no duplicate images
    assert sorted(i.image_id for i in items) == sorted(r.id for r in records)
    assert {r.original_name for r in records} == {i.file_name for i in items}
    # Only the missing items were asked for again (plus at most the 2 that were in flight at the kill).
    assert len(fake_gemini.requests) - requests_before <= TOTAL - done_at_kill
    assert not store.orphan_files() or all(p.name.startswith(".incoming-") for p in store.orphan_files())


@pytest.mark.slow
def test_ctrl_c_then_sigkill_mid_job_then_resume(tmp_path: Path, fake_gemini: FakeGemini) -> None:
    template = _write_template(tmp_path)
    data_root = tmp_path / "data"
    env = _cli_env(tmp_path, data_root, fake_gemini)
    settings = Settings(_env_file=None, data_root=data_root, database_url=None)  # type: ignore[call-arg]
    fake_gemini.latency_s = 0.3
    # The database exists, migrated, before the CLI starts: opening it here while the CLI generates would cost
    # seconds on a busy machine, in which the CLI could finish the items this test means to interrupt.
    store = Store(settings)
    jobs = JobStore(store)

    # Ctrl-C: the run stops cleanly, puts its in-flight items back and frees the job.
    interrupted = _interrupt_after(template, env, tmp_path, jobs, 2, signal.SIGINT)
    assert interrupted.returncode == 130, interrupted.communicate()[0]
    assert "re-run to resume" in (interrupted.stdout.read() if interrupted.stdout else "")
    after_ctrl_c = jobs.counts(1)
    assert after_ctrl_c[GEN_RUNNING] == 0 and after_ctrl_c[GEN_DONE] >= 2
    # The CLI's run is a job of the queue, closed as cancelled: nothing holds the generation.
    assert [j.status for j in JobQueue(settings).recent()] == ["cancelled"]

    # SIGKILL: nothing runs any cleanup.
    killed = _interrupt_after(template, env, tmp_path, jobs, after_ctrl_c[GEN_DONE] + 2, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    killed_at = jobs.counts(1)
    assert killed_at[GEN_DONE] < TOTAL and killed_at[GEN_RUNNING] > 0  # really killed mid-job
    requests_before = len(fake_gemini.requests)

    fake_gemini.latency_s = 0.0
    resumed = cli(["--template", str(template)], env, tmp_path)
    output, _ = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, output
    _check_resumed_run(store, jobs, fake_gemini, output, requests_before, killed_at[GEN_DONE])
    dispose_engine(settings.resolved_database_url)


def test_cli_dry_run_and_missing_key(app_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    example = str(ROOT / "templates" / "example_template.json")
    assert main(["generate", "--template", example, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "96 images" in out and "$" in out and "Facial expression" in out
    assert main(["generate", "--template", example]) == 2
    err = capsys.readouterr().err
    assert "GEMINI_API_KEY" in err and "Traceback" not in err
    bad = ROOT / "templates" / "missing.json"
    assert main(["generate", "--template", str(bad)]) == 2
    assert "cannot read template" in capsys.readouterr().err
