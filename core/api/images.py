"""Strict decoding of uploaded images: truncated or corrupt files are refused instead of half-decoded."""

from __future__ import annotations

import base64
import binascii
import io
import re

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import ImageNotReadable
from core.imaging import limit_size, probe_image

_DATA_URL = re.compile(r"^data:image/[a-z0-9.+-]+;base64,", re.IGNORECASE)


def decode_upload(data: bytes, max_side: int) -> np.ndarray:
    """RGB uint8 of an uploaded image, EXIF-rotated and downscaled to `max_side`.

    OpenCV decodes a truncated JPEG into a partly grey picture with only a warning; PIL's full load raises, which
    is what an API wants: the caller learns that the upload was cut off.
    """
    probe_image(data)  # empty, non-image and decompression-bomb checks from the header alone
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            rgb = np.asarray(ImageOps.exif_transpose(img).convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageNotReadable(f"the image is truncated or corrupt ({exc})") from exc
    rgb, _ = limit_size(np.ascontiguousarray(rgb), max_side)
    return rgb


def decode_base64_image(text: str) -> bytes:
    """Bytes of a base64 string or data URL; ImageNotReadable for anything that is not valid base64."""
    payload = re.sub(r"\s+", "", _DATA_URL.sub("", text.strip(), count=1))
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImageNotReadable("the frame is not valid base64") from exc
    if not data:
        raise ImageNotReadable("the frame is empty")
    return data
