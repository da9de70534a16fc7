"""Resolving user-given paths before reading them: symlinks and `..` are resolved first, so that a check of where a
file really is (inside the imported folder, inside an allowed import root) has one place to live."""

from __future__ import annotations

from pathlib import Path


def resolve_path(path: Path | str) -> Path:
    """The absolute path with every symlink and `..` resolved (the file need not exist)."""
    return Path(path).expanduser().resolve(strict=False)


def resolve_inside(root: Path | str, path: Path | str) -> Path | None:
    """`path` resolved, or None when it really lies outside `root` (through `..` or a symlink)."""
    real_root = resolve_path(root)
    real = resolve_path(path)
    return real if real == real_root or real.is_relative_to(real_root) else None
