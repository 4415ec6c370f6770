"""Heat map and PNG helpers."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from styleport.parity.heatmap import GAIN, difference_map, png_bytes, to_uint8


def test_identical_is_black_and_large_difference_is_white():
    ref = np.full((4, 5, 3), 100.0, np.float32)
    assert not difference_map(ref, ref).any()
    far = ref.copy()
    far[0, 0, 1] += 255.0 / GAIN  # one channel of one pixel at the saturation level
    heat = difference_map(ref, far)
    assert heat[0, 0].tolist() == [255, 255, 255] and not heat[1:].any()


def test_difference_map_grows_monotonically_and_handles_nan():
    ref = np.zeros((1, 4, 3), np.float32)
    out = np.zeros_like(ref)
    out[0, :, 0] = [1.0, 5.0, 10.0, np.nan]
    heat = difference_map(ref, out).astype(int).sum(axis=2)[0]  # (1,4,3) -> (4,) brightness
    assert heat[0] < heat[1] < heat[2] and heat[3] == 255 * 3  # NaN shows as the worst colour


def test_png_round_trip_rounds_and_clips():
    rgb = np.array([[[-5.0, 127.6, 300.0]]], np.float32)
    assert to_uint8(rgb).tolist() == [[[0, 128, 255]]]
    back = np.asarray(Image.open(io.BytesIO(png_bytes(rgb))))
    assert back.tolist() == [[[0, 128, 255]]]
