"""Image decoding and geometry helpers shared by import, extraction, training and live detection."""

from __future__ import annotations

import contextlib
import ctypes
import io
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import ImageNotReadable, ImageTooLarge
from core.settings import get_settings

# Above this many pixels a decode is followed by malloc_trim (see _release_freed_memory).
_TRIM_AFTER_PIXELS = 8_000_000


@cache
def _libc() -> ctypes.CDLL | None:
    """Loaded on the first large decode, not at import."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018  (glibc only; musl has none)
    except (OSError, AttributeError):
        return None
    return libc


def _release_freed_memory() -> None:
    """Hand freed heap memory back to the OS. glibc keeps what a thread freed in that thread's arena, so after one
    large decode in each of a server's worker threads the process would keep hundreds of MB it no longer uses."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


@contextlib.contextmanager
def _open(data: bytes) -> Iterator[Image.Image]:
    """`Image.open` without PIL's warning about images over ~89 megapixels: the limit that counts is
    Settings.max_image_pixels, checked by probe_image from the header, so the warning would only be noise (or an
    error under -W error). Scoped to the call, not a process-wide filter."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        img = Image.open(io.BytesIO(data))
    with img:
        yield img


TOO_LARGE = "the image is too large to decode"  # how every ImageTooLarge message starts (pages classify by it)


@dataclass(frozen=True)
class ImageInfo:
    format: str
    width: int
    height: int


def _pixel_limit(max_pixels: int | None) -> int:
    return max_pixels if max_pixels is not None else get_settings().max_image_pixels


def probe_image(data: bytes, max_pixels: int | None = None) -> ImageInfo:
    """Read only the header: format and size. Every decode goes through here first, so a decompression bomb (a tiny
    file declaring a huge picture) is refused before any pixel memory is allocated.

    Raises ImageNotReadable for empty or non-image bytes, ImageTooLarge above `max_pixels` (default: Settings).
    """
    if not data:
        raise ImageNotReadable("the file is empty")
    limit = _pixel_limit(max_pixels)
    try:
        with _open(data) as img:
            width, height = img.size
            fmt = (img.format or "").lower()
    except Image.DecompressionBombError as exc:  # PIL's own ceiling, for headers far beyond ours
        raise ImageTooLarge(
            f"{TOO_LARGE}: far over the limit of {limit / 1e6:g} megapixels (MAX_IMAGE_PIXELS)"
        ) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageNotReadable("not an image file (unrecognised format)") from exc
    if width * height > limit:
        raise ImageTooLarge(
            f"{TOO_LARGE}: {width}x{height} is {width * height / 1e6:.0f} megapixels, "
            f"the limit is {limit / 1e6:g} (MAX_IMAGE_PIXELS)"
        )
    return ImageInfo(format=fmt, width=width, height=height)


def decode_rgb(data: bytes, max_pixels: int | None = None) -> np.ndarray:
    """Decode image bytes to a contiguous RGB uint8 array (grayscale and alpha are converted), after the header's
    pixel count passed `probe_image`."""
    probe_image(data, max_pixels)
    buf = np.frombuffer(data, dtype=np.uint8)
    bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if bgr is None:
        # OpenCV refuses some valid formats (e.g. some GIF/WebP variants); PIL is the slower second opinion.
        try:
            with _open(data) as img:
                img.load()
                return np.ascontiguousarray(np.asarray(img.convert("RGB")))
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
            raise ImageNotReadable("the image is corrupt or not an image") from exc
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def _decode_pil(data: bytes, info: ImageInfo, max_side: int) -> np.ndarray:
    longest = max(info.width, info.height)
    try:
        with _open(data) as img:
            if longest > max_side:
                scale = max_side / longest
                img.draft("RGB", (max(1, int(info.width * scale)), max(1, int(info.height * scale))))
            img.load()
            factor = max(img.size) // max_side
            small: Image.Image = img
            if factor >= 2:
                # reduce() handles the plain modes only; a palette or 16-bit image is converted first.
                small = (small if small.mode in ("RGB", "RGBA", "L", "LA") else small.convert("RGB")).reduce(factor)
            small = ImageOps.exif_transpose(small)
            return np.asarray(small if small.mode == "RGB" else small.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageNotReadable(f"the image is truncated or corrupt ({exc})") from exc


def decode_reduced(data: bytes, max_side: int, max_pixels: int | None = None) -> np.ndarray:
    """Strictly decode to RGB with the longer side at most `max_side`, EXIF-rotated, in bounded memory.

    Strict: a truncated or header-only file raises ImageNotReadable (OpenCV would half-decode it with a warning).
    Bounded: a JPEG is decoded at 1/2, 1/4 or 1/8 scale by libjpeg (PIL `draft`), and any other format is shrunk
    by an integer factor right after decoding, so only one full-size picture is ever held, and its memory goes back
    to the system once it is freed.
    """
    info = probe_image(data, max_pixels)
    try:
        rgb = _decode_pil(data, info, max_side)
    finally:
        if info.width * info.height > _TRIM_AFTER_PIXELS:  # the full-size picture is garbage by now
            _release_freed_memory()
    rgb, _ = limit_size(np.ascontiguousarray(rgb), max_side)
    return rgb


def verify_image(data: bytes, max_pixels: int | None = None) -> ImageInfo:
    """Check that the whole image decodes (not only its header): a truncated or header-only file raises
    ImageNotReadable. Cheap: a JPEG is decoded at 1/8 scale, which still reads every byte."""
    info = probe_image(data, max_pixels)
    decode_reduced(data, 64, max_pixels)
    return info


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
