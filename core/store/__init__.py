"""The dataset store: image records and their landmark extractions, in SQL plus content-addressed files."""

from core.store.repository import AddResult, Store

__all__ = ["AddResult", "Store"]
