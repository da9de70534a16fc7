"""Storing one generated image: resize to the template's size, then `Store.add_image` (runs in a writer thread)."""

from __future__ import annotations

from typing import Any

from core.imaging import decode_rgb, encode_png, limit_size, probe_image
from core.store import Store


def prepare_image(data: bytes, output_size: int) -> bytes:
    """PNG bytes no larger than `output_size` on the longer side. Raises ImageNotReadable for bad bytes."""
    info = probe_image(data)
    if info.format == "png" and max(info.width, info.height) <= output_size:
        return data
    rgb, _ = limit_size(decode_rgb(data), output_size)
    return encode_png(rgb)


def store_generated(store: Store, data: bytes, output_size: int, fields: dict[str, Any]) -> tuple[int, bool]:
    """(image id, created) of the stored image; `fields` are `Store.add_image` keyword arguments."""
    result = store.add_image(prepare_image(data, output_size), **fields)
    return result.image_id, result.created
