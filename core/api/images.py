"""Base64 frames from the browser; the decoding itself is `core.imaging.decode_reduced` (strict, bounded)."""

from __future__ import annotations

import base64
import binascii
import re

from core.errors import ImageNotReadable

_DATA_URL = re.compile(r"^data:image/[a-z0-9.+-]+;base64,", re.IGNORECASE)


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
