"""One rule for tests that need something this machine may lack: skipped locally, failed in CI (CI must have it)."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def skip_or_fail(reason: str) -> NoReturn:
    """Skip with `reason` on a developer's machine; fail in CI, where nothing may be silently left out."""
    if in_ci():
        pytest.fail(f"must run in CI: {reason}")
    pytest.skip(reason)
