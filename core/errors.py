"""Domain exceptions. They subclass ValueError so that callers can map them to a user message or a 4xx."""

from __future__ import annotations


class StudioError(ValueError):
    """Base class of every error that carries a message meant for the user."""


class ImageNotReadable(StudioError):
    """The bytes are empty, corrupt, or not an image."""


class ImageTooLarge(ImageNotReadable):
    """The header declares more pixels than Settings.max_image_pixels; the image is refused before decoding."""


class UnknownLabel(StudioError):
    """A label that does not map onto the emotion vocabulary."""


class UnsafeArchive(StudioError):
    """A zip archive with members that would escape the extraction folder."""


class DatasetFormatError(StudioError):
    """A malformed dataset file; the message names the file and line."""


class ModelMismatch(StudioError):
    """A model whose classes or feature version do not match what the caller expects."""


class ModelFileCorrupt(StudioError):
    """A model file whose checksum does not match its recorded sha256."""


class TrainingDataError(StudioError):
    """The selected data cannot train a model (one class, too few samples per class, ...)."""


class PathNotAllowed(StudioError):
    """A server-side path outside the import folders (IMPORT_ROOTS) of a hosted dashboard."""


class JobNotFound(StudioError):
    """No job (a queued job, or a generation job) has that id."""
