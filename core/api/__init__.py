"""REST API (FastAPI). Start it with `uvicorn core.api:app`; `create_app(settings)` builds one for tests."""

from __future__ import annotations

from typing import Any

__all__ = ["app", "create_app"]


def __getattr__(name: str) -> Any:
    # The app is built on first access (by uvicorn), not on import, so that importing core.api.* stays cheap.
    if name == "app":
        from core.api.main import app

        return app
    if name == "create_app":
        from core.api.factory import create_app

        return create_app
    raise AttributeError(name)
