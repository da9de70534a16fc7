"""Which models the Live and Batch test pages offer: first "the active model" (which follows activations), then
every landmark model, ResNet and detector, the active one first."""

from __future__ import annotations

from dataclasses import dataclass

from core.registry import STARTER_ID, ModelCard, Registry


@dataclass(frozen=True)
class ModelChoice:
    card: ModelCard
    label: str  # what the select box shows
    is_starter: bool
    follows_active: bool = False  # "the active model": switches when another model is activated


FOLLOW_ACTIVE_LABEL = "The active model (follows activations)"


def model_choices(registry: Registry) -> list[ModelChoice]:
    """ "The active model", then every loadable card with the active one first; labels say kind, name and held-out
    accuracy when known."""
    active = registry.active_id()
    cards = registry.list()
    cards.sort(key=lambda c: (c.id != active, c.kind, c.id))
    out = []
    if active is not None:
        current = next((c for c in cards if c.id == active), None)
        if current is not None:
            out.append(ModelChoice(current, FOLLOW_ACTIVE_LABEL, current.id == STARTER_ID, follows_active=True))
    for card in cards:
        acc = card.metrics.get("accuracy")
        extra = f", accuracy {acc:.0%}" if isinstance(acc, int | float) else ""
        starter = card.id == STARTER_ID
        tag = " (shipped starter)" if starter else ""
        active_tag = " [active]" if card.id == active else ""
        out.append(ModelChoice(card, f"{card.kind} · {card.name}{tag}{extra}{active_tag} — {card.id}", starter))
    return out
