"""The model registry: cards, artifacts and the active model."""
