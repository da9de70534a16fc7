"""Fixtures shared with other test folders."""

from tests.torch_data import synthetic_yolo
from tests.training.conftest import models_dir, trained, variant_faces

__all__ = ["models_dir", "synthetic_yolo", "trained", "variant_faces"]
