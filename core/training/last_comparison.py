"""The last model comparison of each user, kept beside the models in the registry folder so that the Train page
shows it again after a reload or a restart. One small JSON file per user, written atomically."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from core.atomic import atomic_write_text
from core.models.registry import Registry

FOLDER = ".comparisons"  # a dot folder: the registry's model listing skips it


def _path(registry: Registry, user: str) -> Path:
    # A hash, not the name: any user name (an e-mail address) makes a safe file name.
    return registry.root / FOLDER / f"{hashlib.sha256(user.encode()).hexdigest()[:24]}.json"


def save_last_comparison(registry: Registry, user: str, payload: dict[str, Any]) -> None:
    """Keep `payload` (JSON-serialisable: the comparison as the Train page shows it) as `user`'s last comparison."""
    path = _path(registry, user)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps({"user": user, **payload}, default=_plain))


def _plain(value: Any) -> Any:
    """numpy scalars and arrays (in grid-search parameters and confusion matrices) as plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def load_last_comparison(registry: Registry, user: str) -> dict[str, Any] | None:
    """`user`'s last comparison, or None when there is none or its file is unreadable."""
    path = _path(registry, user)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("user") != user:
        return None
    data.pop("user")
    return data
