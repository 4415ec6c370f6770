"""Pictures for the parity report: RGB arrays as PNG bytes and an amplified-difference heat map.

The heat map shows ``|reference - output|`` (the largest of the three channels per pixel) times a
fixed gain, through a black -> purple -> orange -> yellow -> white ramp, so that maps of different
artifacts are comparable: black is identical, white is a difference of ``255 / gain`` or more.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

GAIN = 10.0  # difference amplification: 25.5 levels of 0..255 already saturate the map
# (5,3) anchor colours of the ramp, evenly spaced over 0..1
_RAMP = np.array(
    [[0, 0, 0], [90, 20, 120], [220, 70, 40], [250, 200, 40], [255, 255, 255]],
    dtype=np.float32,
)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """(H,W,3) float 0..255 (any finite/non-finite values) -> (H,W,3) uint8, rounding like save_image."""
    clean = np.nan_to_num(np.asarray(rgb, np.float32), nan=0.0, posinf=255.0, neginf=0.0)
    return np.clip(np.round(clean), 0, 255).astype(np.uint8)


def difference_map(reference: np.ndarray, output: np.ndarray, gain: float = GAIN) -> np.ndarray:
    """(H,W,3), (H,W,3) -> (H,W,3) uint8 heat map of the amplified per-pixel difference."""
    ref = np.asarray(reference, np.float32)
    out = np.nan_to_num(np.asarray(output, np.float32), nan=1e4, posinf=1e4, neginf=-1e4)
    diff = np.abs(ref - out).max(axis=2)  # (H,W,3) -> (H,W)
    level = np.clip(diff * gain / 255.0, 0.0, 1.0) * (len(_RAMP) - 1)  # (H,W) in 0..4
    lo = np.floor(level).astype(np.int64).clip(0, len(_RAMP) - 2)
    frac = (level - lo)[..., None]  # (H,W) -> (H,W,1)
    colour = _RAMP[lo] * (1.0 - frac) + _RAMP[lo + 1] * frac  # (H,W,3)
    return np.round(colour).astype(np.uint8)


def png_bytes(rgb: np.ndarray) -> bytes:
    """(H,W,3) uint8 or float 0..255 -> PNG file bytes."""
    arr = rgb if rgb.dtype == np.uint8 else to_uint8(rgb)
    buf = io.BytesIO()
    Image.fromarray(arr, "RGB").save(buf, format="PNG", optimize=False)
    return buf.getvalue()
