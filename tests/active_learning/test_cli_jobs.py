"""`al simulate` and `al pool` run the job code: inline from the CLI (tqdm) and, with --submit, in a worker; both
paths give the same result."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from core.active_learning.kinds import AL_SIMULATION_KIND, SimulationParams
from core.auth import OPERATOR, acting_as
from core.cli import main
from core.features.raw import split_raw
from core.imaging import encode_png
from core.jobs import DONE, JobQueue
from core.jobs.worker import Worker, run_inline
from core.settings import Settings
from tests.active_learning.test_simulation import labeled_set


def _submitted(out: str) -> int:
    match = re.search(r"queued job (\d+)", out)
    assert match, out
    return int(match.group(1))


def _run_queued(settings: Settings, job_id: int) -> dict:
    queue = JobQueue(settings)
    assert Worker(queue).run(once=True) == 1
    job = queue.get(job_id)
    assert job.status == DONE, (job.status, job.error)
    assert job.result is not None
    return job.result


def test_simulate_inline_and_as_a_job_agree(
    app_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x, y = labeled_set(240)
    lm, bs, tf = split_raw(x)
    npz = tmp_path / "cache.npz"
    np.savez(npz, landmarks=lm, blendshapes=bs, transforms=tf, labels=y, groups=np.arange(len(y)).astype(str))
    args = ["al", "simulate", "--npz", str(npz), "--rounds", "2", "--initial", "8", "--batch", "8", "--seed", "3"]

    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "240 labeled faces, 4 emotions" in printed
    table = printed.split("round\tlabels\tuncertainty\trandom\n")[1].splitlines()[:3]

    assert main([*args, "--submit"]) == 0
    result = _run_queued(app_env, _submitted(capsys.readouterr().out))
    assert result["n_faces"] == 240 and len(result["rows"]) == 3
    assert [
        f"{r['round']}\t{r['labels']}\t{r['uncertainty_f1']:.3f}\t{r['random_f1']:.3f}" for r in result["rows"]
    ] == (table)
    params = SimulationParams(initial=8, batch=8, rounds=2, seed=3, npz=str(npz))
    with acting_as(OPERATOR):
        assert run_inline(AL_SIMULATION_KIND, params).model_dump(mode="json") == result  # exactly, float for float


def test_simulate_says_what_is_wrong_with_a_bad_cache(
    app_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.npz"
    np.savez(bad, labels=np.array(["happy"]))
    assert main(["al", "simulate", "--npz", str(bad)]) == 2
    assert "lacks the arrays landmarks, blendshapes, transforms" in capsys.readouterr().err


def _pool_folder(root: Path, variants: list[np.ndarray], shade: int) -> Path:
    root.mkdir()
    for i, rgb in enumerate(variants):
        (root / f"happy_{i}.png").write_bytes(encode_png(rgb))
    (root / "empty.png").write_bytes(encode_png(np.full((160, 160, 3), shade, np.uint8)))  # no face in it
    (root / "broken.jpg").write_bytes(b"not an image")
    return root


def test_pool_inline_and_as_a_job_agree(
    app_env: Settings, tmp_path: Path, face_variants: list[np.ndarray], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["al", "pool", str(_pool_folder(tmp_path / "a", face_variants[:3], 90))]) == 0
    inline = capsys.readouterr().out
    assert "pool: 4 added, 0 already in the store, 1 skipped" in inline
    assert "landmarks: 3 faces, 1 without a face, 0 errors" in inline

    folder = _pool_folder(tmp_path / "b", face_variants[3:6], 200)
    assert main(["al", "pool", str(folder), "--submit"]) == 0
    result = _run_queued(app_env, _submitted(capsys.readouterr().out))
    assert result["summary"] == "4 added, 0 already in the store, 1 skipped"
    assert [name for name, _ in result["skipped"]] == ["broken.jpg"]
    assert result["extracted"] == {"ok": 3, "no_face": 1, "errors": 0, "processed": 4}
