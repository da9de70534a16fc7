"""The ASGI app for `uvicorn core.api:app` (or `uvicorn core.api.main:app`)."""

from core.api.factory import create_app

app = create_app()
