"""What the CLI prints: a command that did nothing says so and exits non-zero; by default no log noise (Alembic's
migration lines, MediaPipe's and TFLite's start-up messages), all of it back with --verbose."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.imaging import encode_png
from core.settings import PROJECT_ROOT, Settings


def test_a_manifest_whose_every_row_is_refused_fails_with_the_reasons(
    app_env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label\nmissing1.png,happy\nmissing2.png,sad\nmissing3.png,sad\nmissing4.png,sad\n")
    assert main(["import", str(manifest)]) == 1
    err = capsys.readouterr().err
    assert "nothing imported: all 4 files were refused" in err
    assert "missing1.png: file not found" in err and "missing4.png" not in err  # the first reasons, not all
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["import", str(empty)]) == 1
    assert "nothing imported: no image file found" in capsys.readouterr().err


def _cli(args: list[str], data_root: Path, *, verbose: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATA_ROOT": str(data_root), "DATABASE_URL": "", "START_WORKER": "false"}
    env.pop("STUDIO_VERBOSE", None)
    env["EXTRACT_WORKERS"] = "1"
    command = [sys.executable, "-m", "core", *(["--verbose"] if verbose else []), *args]
    return subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_quiet_by_default_and_everything_with_verbose(tmp_path: Path, face_variants: list[np.ndarray]) -> None:
    folder = tmp_path / "faces"
    folder.mkdir()
    (folder / "happy_1.png").write_bytes(encode_png(face_variants[0]))
    quiet = _cli(["import", str(folder), "--extract"], tmp_path / "quiet")  # a new database: every migration runs
    assert quiet.returncode == 0, quiet.stderr
    assert "1 added" in quiet.stdout and "1 processed: 1 faces" in quiet.stdout
    # Progress bars are the one thing allowed: "extracting: 100%|…| 1/1 [00:01<00:00, 1.06s/img]" or
    # "Import: 0img [00:00, ?img/s]". Their rate is img/s or s/img depending on the machine's speed, so match the
    # elapsed time in brackets instead.
    progress = re.compile(r"\[\d+:\d\d[<,\]]")
    lines = quiet.stderr.replace("\r", "\n").splitlines()
    noise = [line for line in lines if line.strip() and not progress.search(line)]
    assert noise == []  # no alembic INFO, no "Created TensorFlow Lite XNNPACK delegate", no glog W lines
    loud = _cli(["import", str(folder), "--extract"], tmp_path / "loud", verbose=True)
    assert loud.returncode == 0, loud.stderr
    assert "Running upgrade" in loud.stderr and "XNNPACK" in loud.stderr
