"""Active-learning tests share the machine's two cores with other work: one BLAS thread per test process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from threadpoolctl import threadpool_limits

from tests.fakes.gemini_server import fake_gemini  # noqa: F401  (fixture)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with threadpool_limits(1):
        yield
