"""An API app for `uvicorn --factory tests.api.crash_app:make_app`: the real app (no model) plus a route that fails
with an unexpected exception, to see what a real server logs and answers after a 500."""

from __future__ import annotations

from fastapi import FastAPI

from core.api.factory import create_app


def make_app() -> FastAPI:
    app = create_app(model_loader=lambda _settings: None)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    return app
