"""Fixtures shared with other test folders."""

from tests.torch_data import _one_torch_thread, synthetic_yolo

__all__ = ["_one_torch_thread", "synthetic_yolo"]
