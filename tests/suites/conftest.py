"""Fixtures shared with other test folders."""

from tests.training.conftest import _one_thread, suite_sets, trained, variant_faces

__all__ = ["_one_thread", "suite_sets", "trained", "variant_faces"]
