"""The CLI starts without the heavy libraries: what keeps `python -m core --help` and `jobs list` quick
(bench/cli_startup.py measures the time; this checks the cause, on any machine)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "sklearn", "pandas", "mediapipe", "google.genai", "streamlit", "ray", "scipy")  # cv2: 25 ms, kept
_PROBE = """
import contextlib, io, json, sys
from core.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    main(sys.argv[1:])
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {"torch", "sklearn", "pandas", "mediapipe",
      "streamlit", "ray", "scipy", "sqlalchemy"} or m.startswith("google.genai"))))
"""


def loaded_after(tmp_path: Path, *argv: str) -> set[str]:
    env = {"DATA_ROOT": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return {m.split(".")[0] if not m.startswith("google.") else "google.genai" for m in json.loads(out.stdout)}


@pytest.mark.parametrize("argv", [("--help",), ("jobs", "list")])
def test_help_and_jobs_list_import_no_heavy_library(tmp_path: Path, argv: tuple[str, ...]) -> None:
    loaded = loaded_after(tmp_path, *argv)
    assert not loaded & set(HEAVY), loaded
    assert ("sqlalchemy" in loaded) == (argv[0] == "jobs")  # the store is opened only by the command that reads it


def test_a_command_still_gets_its_deferred_arguments(tmp_path: Path) -> None:
    """`train` adds its choices (which import scikit-learn) only when it is the command being run."""
    out = subprocess.run(
        [sys.executable, "-m", "core", "train", "--help"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "--models" in out.stdout and "random_forest" in out.stdout and "--preset" in out.stdout
