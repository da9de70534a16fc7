"""Which model scores the pool: the registry's active model (or a chosen one), if it gives probabilities of face
rows. Landmark models do, and hybrid models (face-api + landmarks, such as the starter) do once the network's rows
are added (`core.active.queue.scoring_rows`); image models (ResNet, detector) predict from pixels and are refused
with a reason."""

from __future__ import annotations

from core.active.queue import ProbaModel
from core.errors import StudioError
from core.registry import Registry


def load_scoring_model(registry: Registry, model_id: str | None = None) -> tuple[str, ProbaModel]:
    """(model id, loaded model) for scoring; StudioError when there is none or it cannot score landmarks."""
    chosen = model_id or registry.active_id()
    if chosen is None:
        raise StudioError("no model to score with: train one on the Train page (or run `python -m core al retrain`)")
    card = registry.card(chosen)
    if card.kind not in ("landmark", "hybrid"):
        raise StudioError(
            f"model {chosen} is a {card.kind} model; scoring the pool needs a landmark model (activate one on the "
            "Train page)"
        )
    model = registry.load(chosen)
    if not hasattr(model, "predict_proba"):
        raise StudioError(f"model {chosen} gives no class probabilities")
    return chosen, model
