"""Images for calibration (int8, fp16 ranges): real photos, the bundled calibration set by default.

Real photos matter: a style network's activations on photos differ from those on noise, so int8
scales and fp16 ranges measured on noise can be wrong for users. ``calibration_set`` without photos
uses the bundled calibration photos (``images.sample_photos("calibration")``), never noise, and
verification uses a disjoint held-out set. ``synthetic_image`` (a smooth seeded random image) is
only for benchmarks that ask for it explicitly through ``images_at([], ...)``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from styleport.errors import UsageError

MAX_CALIBRATION_IMAGES = 64


def collect_images(paths: Sequence[str | os.PathLike]) -> tuple[Path, ...]:
    """Expand files and directories into a sorted tuple of image files; error on none / missing."""
    from styleport.images import is_image_file

    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and is_image_file(p)))
        elif path.is_file():
            if not is_image_file(path):
                raise UsageError(f"{path}: not an image file (photos expected)")
            found.append(path)
        else:
            raise UsageError(f"{path}: no such photo file or folder")
    if paths and not found:
        raise UsageError(f"no images found in {', '.join(str(p) for p in paths)}")
    return tuple(found[:MAX_CALIBRATION_IMAGES])


def fit(image: Image.Image, height: int, width: int) -> np.ndarray:
    """Scale to cover (height, width) and center-crop: PIL RGB -> (H,W,3) float32 0..255."""
    w0, h0 = image.size
    scale = max(height / h0, width / w0)
    size = (max(width, round(w0 * scale)), max(height, round(h0 * scale)))
    img = image.resize(size, Image.BICUBIC)
    left, top = (size[0] - width) // 2, (size[1] - height) // 2
    img = img.crop((left, top, left + width, top + height))
    return np.asarray(img, dtype=np.float32)


def synthetic_image(height: int, width: int, seed: int) -> np.ndarray:
    """A smooth, photo-like random RGB image: (H,W,3) float32 0..255."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 255, size=(max(2, height // 8), max(2, width // 8), 3)).astype(np.uint8)
    base = np.asarray(Image.fromarray(coarse, "RGB").resize((width, height), Image.BILINEAR), dtype=np.float32)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    gradient = (xx / max(width - 1, 1) * 80.0 - 40.0)[..., None] * rng.uniform(-1, 1, size=3)  # (H,W,1)*(3,)
    edge = np.where(yy > height * rng.uniform(0.3, 0.7), 40.0, -40.0)[..., None]  # (H,W,1)
    detail = rng.normal(0, 6, size=(height, width, 3))
    return np.clip(base + gradient + edge + detail, 0, 255).astype(np.float32)


def images_at(paths: Sequence[Path], sizes: Sequence[tuple[int, int]], seed: int = 0) -> list[np.ndarray]:
    """One (H,W,3) float32 image per size: photos (cycled) when given, else synthetic images."""
    out = []
    if paths:
        from styleport.images import load_image

        loaded: dict[Path, Image.Image] = {}
        for i, (h, w) in enumerate(sizes):
            path = paths[i % len(paths)]
            if path not in loaded:
                loaded[path] = load_image(path).rgb
            out.append(fit(loaded[path], h, w))
    else:
        out = [synthetic_image(h, w, seed + i) for i, (h, w) in enumerate(sizes)]
    return out


def calibration_set(paths: Sequence[Path], size: tuple[int, int], count: int = 8, seed: int = 0) -> list[np.ndarray]:
    """``count`` images at ``size`` (or one per photo, up to count): (H,W,3) float32 0..255 each.

    Without ``paths``, the bundled calibration photos (never synthetic images).
    """
    if not paths:
        from styleport.images import sample_photos

        paths = sample_photos("calibration")
    n = min(count, len(paths))
    return images_at(paths[:n], [size] * n, seed=seed)
