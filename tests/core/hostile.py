"""Hostile files made on the spot, tiny on disk: decompression bombs, lying JPEG headers, zip bombs."""

from __future__ import annotations

import struct
import zlib

import numpy as np

from core.imaging import encode_jpeg


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bomb(width: int, height: int) -> bytes:
    """A valid single-colour grey PNG of width x height pixels; a few hundred KB for hundreds of megapixels."""
    # One block of zero rows deflated once and repeated: a full flush makes each copy independent of the ones
    # before it, so the stream stays valid without compressing hundreds of megabytes.
    rows = 64
    block = bytes((width + 1) * rows)  # per row: filter byte + one byte per pixel
    raw = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = raw.compress(block) + raw.flush(zlib.Z_FULL_FLUSH)
    tail_rows = bytes((width + 1) * (height % rows))
    last = zlib.compressobj(9, zlib.DEFLATED, -15)
    tail = last.compress(tail_rows) + last.flush(zlib.Z_FINISH)
    adler = 1
    for _ in range(height // rows):
        adler = zlib.adler32(block, adler)
    adler = zlib.adler32(tail_rows, adler)
    idat = b"\x78\xda" + deflated * (height // rows) + tail + struct.pack(">I", adler)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def jpeg_claiming(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header claims width x height (the data stops long before)."""
    data = bytearray(encode_jpeg(np.full((16, 16, 3), 128, np.uint8)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: int(len(data) * keep)]


def jpeg_header_only(data: bytes) -> bytes:
    """Everything up to the start of the scan: the size is readable, the pixels are not there."""
    return data[: data.index(b"\xff\xda")]
