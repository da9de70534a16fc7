"""Hostile images: decompression bombs and lying headers are refused from the header, before any decode, everywhere
an image is decoded; large legal images decode in bounded memory."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.errors import ImageNotReadable, ImageTooLarge
from core.imaging import decode_reduced, decode_rgb, encode_jpeg, encode_png, probe_image, verify_image
from core.landmarks.extractor import LandmarkExtractor
from core.settings import Settings
from tests.core.hostile import jpeg_claiming, jpeg_header_only, png_bomb, truncated

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    return {
        "png-144mp": png_bomb(12000, 12000),  # over our limit, under PIL's own bomb ceiling
        "png-400mp": png_bomb(20000, 20000),  # over PIL's ceiling too (it raises DecompressionBombError itself)
        "jpeg-claims-65000": jpeg_claiming(65000, 65000),
    }


def test_bombs_are_tiny_on_disk(bombs: dict[str, bytes]) -> None:
    assert all(len(b) < 2_000_000 for b in bombs.values())


@pytest.mark.parametrize("name", ["png-144mp", "png-400mp", "jpeg-claims-65000"])
def test_every_decoder_refuses_a_bomb_from_its_header(bombs: dict[str, bytes], name: str) -> None:
    data = bombs[name]
    for decode in (probe_image, decode_rgb, verify_image, lambda d: decode_reduced(d, 512)):
        with pytest.raises(ImageTooLarge, match="too large"):
            decode(data)
    # ImageTooLarge is an ImageNotReadable, so every caller that reports unreadable files reports this one too.
    assert issubclass(ImageTooLarge, ImageNotReadable)


def test_the_limit_comes_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    data = encode_png(np.zeros((1200, 1000, 3), np.uint8))  # 1.2 megapixels
    assert probe_image(data, max_pixels=2_000_000).width == 1000
    with pytest.raises(ImageTooLarge, match="1000x1200"):
        probe_image(data, max_pixels=1_000_000)
    assert Settings(_env_file=None).max_image_pixels == 50_000_000  # type: ignore[call-arg]
    monkeypatch.setenv("MAX_IMAGE_PIXELS", "1000000")
    assert Settings(_env_file=None).max_image_pixels == 1_000_000  # type: ignore[call-arg]


def test_extraction_reports_a_bomb_as_an_error_outcome(settings: Settings, bombs: dict[str, bytes]) -> None:
    with LandmarkExtractor(settings, mode="image") as extractor:
        outcome = extractor.extract_bytes(bombs["png-144mp"])
    assert outcome.state == "error" and "too large" in outcome.reason


def test_truncated_and_header_only_jpegs_fail_verification(astronaut_rgb: np.ndarray) -> None:
    jpeg = encode_jpeg(astronaut_rgb)
    assert verify_image(jpeg).width == astronaut_rgb.shape[1]
    for broken in (truncated(jpeg), jpeg_header_only(jpeg)):
        probe_image(broken)  # the header alone looks fine ...
        with pytest.raises(ImageNotReadable, match="truncated or corrupt"):
            verify_image(broken)  # ... the whole image does not


def test_decode_reduced_matches_a_full_decode(astronaut_rgb: np.ndarray) -> None:
    big = cv2.resize(astronaut_rgb, (3000, 2400), interpolation=cv2.INTER_CUBIC)
    for data in (encode_jpeg(big, quality=95), encode_png(big)):
        small = decode_reduced(data, 600)
        assert small.shape == (480, 600, 3)
        reference = cv2.resize(decode_rgb(data), (600, 480), interpolation=cv2.INTER_AREA)
        # Reduced decoding (libjpeg scaling, PIL reduce) differs from a full decode only by resampling noise.
        assert np.abs(small.astype(int) - reference.astype(int)).mean() < 4


_MEASURE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from core.errors import ImageTooLarge
    from core.imaging import decode_reduced, decode_rgb

    def peak_mb():  # this process's own high-water mark (ru_maxrss would include the forking parent's)
        status = Path("/proc/self/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) // 1024

    base = peak_mb()
    refused = 0
    for path in sorted(Path(sys.argv[1]).glob("bomb*")):
        for decode in (decode_rgb, lambda d: decode_reduced(d, 1600)):
            try:
                decode(path.read_bytes())
            except ImageTooLarge:
                refused += 1
    big = decode_reduced((Path(sys.argv[1]) / "legal.jpg").read_bytes(), 1600)
    print(refused, big.shape[1], base, peak_mb())
    """
)


def test_peak_memory_of_decoding_bombs_stays_bounded(tmp_path: Path, bombs: dict[str, bytes]) -> None:
    """A subprocess decodes every bomb (refused) and a large legal JPEG (reduced). Its peak RSS grows, over its own
    level after imports, by less than ONE full-size RGB copy of the legal image: the bound follows from the pixel
    count, not from this machine (decoding the 144-megapixel PNG alone would take 432 MB; the reduced decode of the
    49-megapixel JPEG holds about 9 MB)."""
    for name, data in bombs.items():
        (tmp_path / f"bomb-{name}").write_bytes(data)
    side = 7000  # 49 megapixels, just under the limit
    legal = cv2.resize(np.full((64, 64, 3), 200, np.uint8), (side, side))
    legal[::50] = 30  # some structure, so the file is not trivially small
    (tmp_path / "legal.jpg").write_bytes(encode_jpeg(legal, quality=80))
    del legal
    env = {k: v for k, v in os.environ.items() if k != "MAX_IMAGE_PIXELS"}
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    refused, width, base_mb, peak_mb = (int(v) for v in proc.stdout.split())
    assert refused == 6 and width == 1600
    one_full_decode_mb = side * side * 3 // 2**20
    assert peak_mb - base_mb < one_full_decode_mb, f"peak RSS {peak_mb} MB, {base_mb} MB after imports"
