"""The framing of face crops for face-api's network (core.faceapi.framing): one place, measurable choices."""

from __future__ import annotations

import numpy as np

from core.faceapi.framing import FRAMINGS, INPUT_SIZE, NETWORK_FRAMING, Framing, crop, whole_image_crop
from core.faceapi.network import CROP_SCALE, face_crop

BOX = (0.3, 0.2, 0.6, 0.8)


def _noise(h: int = 200, w: int = 300) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)


def test_the_square_framing_is_the_stored_rows_crop() -> None:
    rgb = _noise()
    np.testing.assert_array_equal(crop(rgb, BOX, None, Framing(scale=CROP_SCALE)), face_crop(rgb, BOX))


def test_every_candidate_gives_a_112_px_rgb_crop_even_at_the_border() -> None:
    rgb = _noise()
    landmarks = np.random.default_rng(1).random((478, 3)) * 0.3 + 0.3
    for framing in FRAMINGS:
        for box in (BOX, (0.0, 0.0, 0.2, 0.9), (0.8, 0.7, 1.0, 1.0)):
            out = crop(rgb, box, landmarks, framing)
            assert out.shape == (INPUT_SIZE, INPUT_SIZE, 3) and out.dtype == np.uint8
    assert whole_image_crop(rgb).shape == (INPUT_SIZE, INPUT_SIZE, 3)


def test_box_aspect_stretches_and_padding_is_black_or_replicated() -> None:
    rgb = np.full((100, 100, 3), 200, np.uint8)
    box = (0.0, 0.0, 1.0, 1.0)
    black = crop(rgb, box, None, Framing(scale=1.5))
    edge = crop(rgb, box, None, Framing(scale=1.5, pad="edge"))
    assert black[0, 0].max() == 0 and black[56, 56].min() == 200  # outside the image: black
    assert edge.min() == 200  # replicated border: no black anywhere
    # The box's own aspect: a tall box is stretched to the crop; a square one also shows what lies beside it.
    rgb[:, :25] = 50
    tall = (0.25, 0.0, 0.75, 1.0)
    stretched = crop(rgb, tall, None, Framing(scale=1.0, square=False))
    assert stretched[1:-1, 1:-1].min() == 200
    assert crop(rgb, tall, None, Framing(scale=1.0))[56, :10].max() == 50


def test_eye_alignment_levels_a_tilted_eye_line() -> None:
    """A white dot at each eye of a face tilted by 30 degrees: after alignment both dots sit on one row."""
    rgb = np.zeros((200, 200, 3), np.uint8)
    landmarks = np.full((478, 3), 0.5)
    centre, half = np.array([100.0, 100.0]), 30.0
    angle = np.deg2rad(30)
    left = centre - half * np.array([np.cos(angle), np.sin(angle)])
    right = centre + half * np.array([np.cos(angle), np.sin(angle)])
    for idx, point in (((33, 133), left), ((362, 263), right)):
        for i in idx:
            landmarks[i, :2] = point / 200
        x, y = np.round(point).astype(int)
        rgb[y - 3 : y + 4, x - 3 : x + 4] = 255
    box = (0.25, 0.25, 0.75, 0.75)
    aligned = crop(rgb, box, landmarks, Framing(scale=1.0, align=True))
    plain = crop(rgb, box, landmarks, Framing(scale=1.0))

    def dot_rows(img: np.ndarray) -> tuple[float, float]:
        ys, xs = np.nonzero(img[..., 0] > 128)
        mid = INPUT_SIZE / 2
        return float(ys[xs < mid].mean()), float(ys[xs >= mid].mean())

    a_left, a_right = dot_rows(aligned)
    p_left, p_right = dot_rows(plain)
    assert abs(a_left - a_right) < 2 < abs(p_left - p_right)


def test_the_chosen_framing_is_one_of_the_measured_candidates() -> None:
    from dataclasses import replace

    assert replace(NETWORK_FRAMING, flip=False) in FRAMINGS
