"""Single-stage grid detector (model kind "detector"): one pass finds every face and its expression.

Modules: `boxes` (box maths, grid encoding, NMS), `net` (the network), `loss`, `data` (YOLO samples and
box-consistent augmentation), `train`, `evaluate` (mAP@0.5 and face metrics), `model` (registry artifact and the
ExpressionModel used by Live, Batch test and the API), `compare` (detector vs MediaPipe-based pipelines).
"""
