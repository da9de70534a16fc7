"""Which models the Live and Batch test pages offer: first "the active model" (which follows activations), then
every landmark, hybrid, ResNet and detector model, the active one first."""

from __future__ import annotations

from dataclasses import dataclass

from core.models.registry import SHIPPED_IDS, STARTER_ID, ModelCard, Registry


@dataclass(frozen=True)
class ModelChoice:
    card: ModelCard
    label: str  # what the select box shows: short, since the sidebar shows about 30 characters
    is_starter: bool
    is_active: bool = False
    follows_active: bool = False  # "the active model": switches when another model is activated

    @property
    def details(self) -> str:
        """What the label leaves out: kind, full id and held-out accuracy (shown under the select box)."""
        acc = self.card.metrics.get("accuracy")
        extra = f", held-out accuracy {acc:.0%}" if isinstance(acc, int | float) else ""
        state = " (active)" if self.is_active else ""
        return f"{self.card.kind} model `{self.card.id}`{state}{extra}"


FOLLOW_ACTIVE_LABEL = "Active model (follows)"  # short: the sidebar select box shows ~30 characters


def model_choices(registry: Registry) -> list[ModelChoice]:
    """ "The active model", then every loadable card with the active one first; short labels: ✓ for the active
    one, name, starter or date."""
    active = registry.active_id()
    cards = registry.list()
    cards.sort(key=lambda c: (c.id != active, c.kind, c.id))
    out: list[ModelChoice] = []
    seen: set[str] = set()
    current = next((c for c in cards if c.id == active), None)
    if current is not None:
        out.append(ModelChoice(current, FOLLOW_ACTIVE_LABEL, current.id == STARTER_ID, True, follows_active=True))
    for card in cards:
        starter = card.id == STARTER_ID
        when = (
            "starter" if starter else "shipped" if card.id in SHIPPED_IDS else card.created_at.strftime("%d %b %H:%M")
        )
        label = f"{'✓ ' if card.id == active else ''}{card.name} · {when}"
        if label in seen:  # same name in the same minute: the id's tail tells them apart
            label = f"{label} ·{card.id[-4:]}"
        seen.add(label)
        out.append(ModelChoice(card, label, starter, card.id == active))
    return out
