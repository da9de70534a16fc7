"""Code checks that ruff and mypy cannot make (those two run as their own step of .ci/run, before pytest)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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
