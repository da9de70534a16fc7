"""Single-stage grid detector (model kind "detector"): one pass finds every face and its expression.

Modules: `boxes` (box maths, grid encoding, NMS), `net` (the network), `loss`, `data` (YOLO samples and
box-consistent augmentation), `train`, `evaluate` (mAP@0.5 and face metrics), `model` (the ExpressionModel used by Live,
Batch test and the API, and saving it), `faceapi_head` (face-api's network on each box), `artifact` (the registry
loader), `compare` (detector vs MediaPipe-based pipelines).
"""
