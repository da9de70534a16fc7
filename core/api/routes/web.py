"""The standalone web page at `/` and the emotion artwork it shows."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse

from core.api.schemas import ErrorOut
from core.art import artwork_svg

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
router = APIRouter(tags=["web"])


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")


@router.get(
    "/api/art/{emotion}.svg",
    response_class=Response,
    responses={
        200: {"content": {"image/svg+xml": {}}},
        404: {"model": ErrorOut, "description": "No artwork for that name (not one of the emotions)."},
    },
    summary="The artwork of one emotion",
)
def artwork(emotion: str) -> Response:
    # artwork_svg only accepts names from EMOTIONS (UnknownLabel otherwise), so no path comes from the request.
    return Response(artwork_svg(emotion), media_type="image/svg+xml", headers={"Cache-Control": "max-age=3600"})
