"""`core` must never import streamlit: the CLI and the API run without it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import importlib, importlib.util, pkgutil, sys
no_torch = importlib.util.find_spec("torch") is None  # an install from requirements-base.txt
sys.modules["streamlit"] = None  # any `import streamlit` now raises ImportError
import core
failed = []
for mod in pkgutil.walk_packages(core.__path__, "core."):
    if mod.name in ("core.__main__",):
        continue
    try:
        importlib.import_module(mod.name)
    except ImportError as exc:
        if no_torch and exc.name in ("torch", "torchvision"):
            continue  # the ResNet and detector modules are optional without torch
        failed.append(f"{mod.name}: {exc}")
print("checked", len(list(pkgutil.walk_packages(core.__path__, "core."))))
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""


@pytest.mark.slow
def test_every_core_module_imports_without_streamlit() -> None:
    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert int(out.stdout.split()[1]) > 10


def test_no_streamlit_import_in_core_sources() -> None:
    offenders = [p for p in (ROOT / "core").rglob("*.py") if "import streamlit" in p.read_text()]
    assert offenders == []
