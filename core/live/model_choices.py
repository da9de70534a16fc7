"""Which models the live page offers: landmark models and ResNets (and detectors), the active one first."""

from __future__ import annotations

from dataclasses import dataclass

from core.registry import STARTER_ID, ModelCard, Registry


@dataclass(frozen=True)
class ModelChoice:
    card: ModelCard
    label: str  # what the select box shows
    is_starter: bool


def model_choices(registry: Registry) -> list[ModelChoice]:
    """Every loadable card, the active model first; labels say kind, name and held-out accuracy when known."""
    active = registry.active_id()
    cards = registry.list()
    cards.sort(key=lambda c: (c.id != active, c.kind, c.id))
    out = []
    for card in cards:
        acc = card.metrics.get("accuracy")
        extra = f", accuracy {acc:.0%}" if isinstance(acc, int | float) else ""
        starter = card.id == STARTER_ID
        tag = " (shipped starter)" if starter else ""
        active_tag = " [active]" if card.id == active else ""
        out.append(ModelChoice(card, f"{card.kind} · {card.name}{tag}{extra}{active_tag} — {card.id}", starter))
    return out
