"""Liveness and the model in use (the active one, reloaded after an activation)."""

from __future__ import annotations

from fastapi import APIRouter

from core.api.deps import ServiceDep, SettingsDep
from core.api.schemas import HealthOut

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthOut, summary="Service status and the loaded model")
def health(service: ServiceDep, settings: SettingsDep) -> HealthOut:
    model = service.model
    keys = settings.requires_api_key
    if model is None:
        return HealthOut(
            status="degraded", model_id=None, model_kind=None, classes=[], detail=service.reason, api_key_required=keys
        )
    # A failed reload of a newly activated model is reported while the previous model keeps serving.
    return HealthOut(
        status="ok",
        model_id=model.card.id,
        model_kind=model.card.kind,
        classes=list(model.card.classes),
        api_key_required=keys,
        detail=service.watcher.error,
    )
