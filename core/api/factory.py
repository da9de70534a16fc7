"""The FastAPI application: middleware, error mapping, routes, and the model it serves (kept in step with the
registry's active model)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.api.keyauth import FailureThrottle, RateLimiter
from core.api.limits import BodySizeLimit
from core.api.logs import configure_logging
from core.api.routes import health, predict, web
from core.api.service import ModelLoader, ModelUnavailable, PredictionService, load_active_model
from core.apikeys import ApiKeys
from core.errors import ImageNotReadable, ImageTooLarge, StudioError, UnknownLabel
from core.settings import Settings, get_settings

log = logging.getLogger("core.api")
access = logging.getLogger("core.api.access")


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        kind = err.get("type", "")
        if kind == "missing":
            parts.append(f"missing field {where!r}")
        elif kind == "extra_forbidden":
            parts.append(f"unexpected field {where!r}")
        elif kind == "json_invalid":
            parts.append("the body is not valid JSON")
        else:
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


def _install_error_handlers(app: FastAPI) -> None:
    """Every failure becomes a JSON `{"detail": message}`; tracebacks only reach the server log."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # The message names the fields but never echoes their values (a base64 frame can be megabytes).
        return JSONResponse({"detail": _validation_message(exc)}, status_code=422)

    @app.exception_handler(ImageNotReadable)
    async def _unreadable(_: Request, exc: ImageNotReadable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(ImageTooLarge)
    async def _too_large(_: Request, exc: ImageTooLarge) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=413)

    @app.exception_handler(UnknownLabel)
    async def _unknown(_: Request, exc: UnknownLabel) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(StudioError)
    async def _studio(_: Request, exc: StudioError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(ModelUnavailable)
    async def _unavailable(_: Request, exc: ModelUnavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)


def _internal_error(request: Request) -> JSONResponse:
    """The answer to an unexpected exception, logged (with its traceback) as one JSON line. Called from the access
    log middleware: an exception left to Starlette's outermost handler would be re-raised to uvicorn, which prints a
    plain-text traceback, skips the access log and may drop the keep-alive connection."""
    log.exception("unhandled error", extra={"method": request.method, "path": request.url.path})
    return JSONResponse({"detail": "internal error; the details are in the server log"}, status_code=500)


def create_app(settings: Settings | None = None, *, model_loader: ModelLoader = load_active_model) -> FastAPI:
    """Build the API. `model_loader(settings)` runs at startup and again whenever the registry's `active.json`
    changes (default: the registry's active model), so an activation reaches the API without a restart."""
    settings = settings or get_settings()
    configure_logging(settings.log_level)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.service = PredictionService.start(settings, model_loader)
        if app.state.service.model is None:
            log.warning("serving without a model", extra={"reason": app.state.service.reason})
        yield
        app.state.service.close()

    app = FastAPI(
        title="Expression Studio API",
        version="1.0",
        description="Facial-expression recognition: upload an image or stream browser frames.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    # Keys are checked against the database on every request, so a revoked key stops working at once.
    app.state.api_keys = ApiKeys(settings) if settings.requires_api_key else None
    app.state.rate_limiter = RateLimiter(settings.api_rate_per_min)
    app.state.failure_throttle = FailureThrottle()
    app.state.decode_slots = threading.BoundedSemaphore(settings.api_max_decodes)
    _install_error_handlers(app)

    @app.middleware("http")
    async def _access_log(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:
            response = _internal_error(request)
        fields = {
            "method": request.method,
            "path": request.url.path,
            "status": response.status_code,
            "ms": round(1000 * (time.perf_counter() - start), 2),
        }
        if key_id := getattr(request.state, "api_key_id", None):
            fields["key_id"] = key_id  # the key's public id, once checked; never the key or its header
        access.info("request", extra=fields)
        return response

    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.api_cors_origins),
        allow_methods=["GET", "POST"],
        allow_headers=["*"],
    )
    # Added last, so it runs first: an oversized body is refused before anything reads it.
    app.add_middleware(BodySizeLimit, max_bytes=int(settings.api_max_upload_mb * 1024 * 1024))
    app.include_router(health.router)
    app.include_router(predict.router)
    app.include_router(web.router)
    app.mount("/static", StaticFiles(directory=web.STATIC_DIR), name="static")
    return app
