"""Training of expression models.

- `core.training.data`: training data assembled from the store (filters, person groups, data-snapshot hash).
- `core.training.zoo`: the landmark classifiers by name, their Pipelines, and the quick/thorough grids.
- `core.training.compare`: grid-search comparison with (person-grouped) folds and a held-out report per model; the
  search of one grid (halving or exhaustive, fit progress) in `grid_search`.
- `core.training.landmark_artifact`: saving landmark models to the registry and loading them back (kind "landmark").
- `core.training.promotion`: a new model scored against the active one and activated as a policy says; the
  comparison record, its decision rule and tables in `promotion_comparison`.
- `core.training.report`: per-model reports and the metrics shared with evaluation.
- `core.training.resnet`: the ResNet-50 image model (needs torch); its parts in `crop_data` (face crops),
  `image_networks` (networks and ImageNet weights) and `resnet_training` (the training loop).

Nothing is imported eagerly here, so importing one submodule stays cheap.
"""
