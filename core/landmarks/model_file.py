"""Shipped model files (the MediaPipe bundle, the face-api expression network), read once and checked against
their recorded sha256."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from core.errors import ModelFileCorrupt

_cache: dict[tuple[str, float, str], bytes] = {}
_lock = threading.Lock()


def load_verified(
    path: Path,
    expected_sha256: str,
    *,
    what: str = "MediaPipe model",
    restore: str = "not the official float16/1 bundle. Restore it from git or the URL in models/README.md.",
) -> bytes:
    """The model bytes, verified. The same bytes are handed to the runtime (MediaPipe, onnxruntime), so what ran is
    what was checked. `what` names the file in messages; `restore` says how to get the right one back."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileCorrupt(
            f"{what} not found at {path}. It ships in the repository under models/; see models/README.md."
        )
    key = (str(path.resolve()), path.stat().st_mtime, expected_sha256)
    with _lock:
        if key in _cache:
            return _cache[key]
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256.lower():
        raise ModelFileCorrupt(
            f"{what} {path} has sha256 {actual}, expected {expected_sha256}; the file is corrupt or {restore}"
        )
    with _lock:
        _cache[key] = data
    return data
