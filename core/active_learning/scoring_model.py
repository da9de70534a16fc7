"""Which model scores the pool: the registry's active model (or a chosen one), of any kind. Scoring runs through
`core.inference.Recognizer`, so landmark models, ResNets and detectors all work."""

from __future__ import annotations

from core.errors import StudioError
from core.inference import ExpressionModel
from core.models.registry import Registry


def load_scoring_model(registry: Registry, model_id: str | None = None) -> tuple[str, ExpressionModel]:
    """(model id, loaded model) for scoring; StudioError when there is none."""
    chosen = model_id or registry.active_id()
    if chosen is None:
        raise StudioError("no model to score with: train one on the Train page (or run `python -m core al retrain`)")
    model: ExpressionModel = registry.load(chosen)
    return chosen, model
