"""ruff and mypy are part of the test command, so CI fails on lint or type errors like on any other defect."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff() -> None:
    out = _run(str(BIN / "ruff"), "check", ".")
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_mypy_core() -> None:
    out = _run(str(BIN / "mypy"))
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


def test_no_bare_expression_is_written_by_streamlit_magic() -> None:
    """Streamlit's "magic" writes the value of every bare expression statement in a page script: `a() if ok else
    b()` shows a stray `None` on the page (it did, under three Active learning sections). Pages and ui use
    statements (if/else), never a bare conditional, boolean or name expression."""
    import ast

    offenders = []
    for path in [*ROOT.glob("pages/*.py"), *ROOT.glob("ui/*.py"), ROOT / "streamlit_app.py"]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Expr) and isinstance(node.value, (ast.IfExp, ast.BoolOp, ast.Name, ast.Compare)):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)[:80]}")
    assert not offenders, offenders
