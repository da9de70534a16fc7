"""Content-addressed image files under `<data_root>/images/ab/<sha256>.<ext>`, written atomically."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def relative_image_path(sha: str, ext: str) -> Path:
    return Path("images") / sha[:2] / f"{sha}{ext}"


def write_temp(folder: Path, data: bytes) -> Path:
    """Write `data` to a temporary file inside `folder` (same filesystem, so a later os.replace is atomic)."""
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=folder, prefix=".incoming-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write a whole file or nothing: a temporary sibling, then an atomic rename."""
    tmp = write_temp(path.parent, data)
    os.replace(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
