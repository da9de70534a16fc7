"""Image decoding and geometry helpers shared by import, extraction, training and live detection."""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from core.errors import ImageNotReadable

# Refuse decompression bombs before decoding: 80 megapixels is far beyond any face photo.
MAX_PIXELS = 80_000_000


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int


def probe_image(data: bytes) -> ImageInfo:
    """Read only the header: format and size. Raises ImageNotReadable for empty or non-image bytes."""
    if not data:
        raise ImageNotReadable("the file is empty")
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            fmt = (img.format or "").lower()
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageNotReadable("not an image file (unrecognised format)") from exc
    if width * height > MAX_PIXELS:
        raise ImageNotReadable(f"image is too large to decode ({width}x{height})")
    return ImageInfo(format=fmt, width=width, height=height)


def decode_rgb(data: bytes) -> np.ndarray:
    """Decode image bytes to a contiguous RGB uint8 array (grayscale and alpha are converted)."""
    if not data:
        raise ImageNotReadable("the file is empty")
    buf = np.frombuffer(data, dtype=np.uint8)
    bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if bgr is None:
        # OpenCV refuses some valid formats (e.g. some GIF/WebP variants); PIL is the slower second opinion.
        try:
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                return np.ascontiguousarray(np.asarray(img.convert("RGB")))
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
            raise ImageNotReadable("the image is corrupt or not an image") from exc
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def limit_size(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Downscale so that the longer side is at most `max_side`; returns the image and the scale applied."""
    h, w = rgb.shape[:2]
    longest = max(h, w)
    if longest <= max_side:
        return rgb, 1.0
    scale = max_side / longest
    resized = cv2.resize(rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(resized), scale


def pad_border(rgb: np.ndarray, fraction: float) -> tuple[np.ndarray, int, int]:
    """Pad each side by `fraction` of the image size with replicated edges; returns the image and (pad_x, pad_y)."""
    h, w = rgb.shape[:2]
    px, py = round(w * fraction), round(h * fraction)
    padded = cv2.copyMakeBorder(rgb, py, py, px, px, cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(padded), px, py


def crop_box(rgb: np.ndarray, box: tuple[float, float, float, float], pad: float = 0.15) -> np.ndarray:
    """Crop a normalized (x0, y0, x1, y1) box grown by `pad` on each side, clipped to the image."""
    h, w = rgb.shape[:2]
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    x0, x1 = max(0.0, x0 - pad * bw), min(1.0, x1 + pad * bw)
    y0, y1 = max(0.0, y0 - pad * bh), min(1.0, y1 + pad * bh)
    ix0, iy0 = int(x0 * w), int(y0 * h)
    ix1, iy1 = max(ix0 + 1, round(x1 * w)), max(iy0 + 1, round(y1 * h))
    return np.ascontiguousarray(rgb[iy0:iy1, ix0:ix1])


def encode_jpeg(rgb: np.ndarray, quality: int = 92) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ImageNotReadable("could not encode the image as JPEG")
    return buf.tobytes()


def encode_png(rgb: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ImageNotReadable("could not encode the image as PNG")
    return buf.tobytes()
