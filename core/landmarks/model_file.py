"""The shipped MediaPipe model bundle, read once and checked against its recorded sha256."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from core.errors import ModelFileCorrupt

_cache: dict[tuple[str, float, str], bytes] = {}
_lock = threading.Lock()


def load_verified(path: Path, expected_sha256: str) -> bytes:
    """The model bytes, verified. The same bytes are handed to MediaPipe, so what ran is what was checked."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileCorrupt(
            f"MediaPipe model not found at {path}. It ships in the repository under models/; see models/README.md."
        )
    key = (str(path.resolve()), path.stat().st_mtime, expected_sha256)
    with _lock:
        if key in _cache:
            return _cache[key]
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256.lower():
        raise ModelFileCorrupt(
            f"{path} has sha256 {actual}, expected {expected_sha256}; the file is corrupt or not the official "
            "float16/1 bundle. Restore it from git or the URL in models/README.md."
        )
    with _lock:
        _cache[key] = data
    return data
