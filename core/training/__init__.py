"""Training of expression models.

- `core.training.data`: training data assembled from the store (filters, person groups, data-snapshot hash).
- `core.training.landmark_models`: the landmark model zoo, grid-search comparison, registry save/load.
- `core.training.report`: per-model reports and the metrics shared with evaluation.
- `core.training.resnet`: the ResNet-50 image model (needs torch).

Nothing is imported eagerly here, so importing one submodule stays cheap.
"""
