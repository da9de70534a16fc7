"""Training of expression models: dataset assembly from the store, the landmark model zoo, reports.

The ResNet-50 image model lives in `core.training.resnet` (imported only when used: it needs torch).
"""

from core.training.data import TrainingData, from_store
from core.training.landmark_models import (
    MODEL_ZOO,
    PRESETS,
    ComparisonResult,
    LandmarkModel,
    compare_models,
    save_model,
)
from core.training.report import ModelReport

__all__ = [
    "MODEL_ZOO",
    "PRESETS",
    "ComparisonResult",
    "LandmarkModel",
    "ModelReport",
    "TrainingData",
    "compare_models",
    "from_store",
    "save_model",
]
