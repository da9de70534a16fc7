"""`Annotated` dependencies of the routes."""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import Depends, Request

from core.api.service import PredictionService
from core.settings import Settings


def _service(request: Request) -> PredictionService:
    service: PredictionService = request.app.state.service
    return service


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _decode_slots(request: Request) -> threading.BoundedSemaphore:
    slots: threading.BoundedSemaphore = request.app.state.decode_slots
    return slots


ServiceDep = Annotated[PredictionService, Depends(_service)]
SettingsDep = Annotated[Settings, Depends(_settings)]
DecodeSlotsDep = Annotated[threading.BoundedSemaphore, Depends(_decode_slots)]
