"""Content-addressed image files under `<data_root>/images/ab/<sha256>.<ext>` (written with `core.atomic`)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def relative_image_path(sha: str, ext: str) -> Path:
    return Path("images") / sha[:2] / f"{sha}{ext}"
