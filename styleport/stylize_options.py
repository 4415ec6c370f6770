"""What to do to an image, whichever engine runs the network: resizing, the output-size limit,
color preservation, strength blending and style mixing. No torch here: ``styleport stylize`` on a
small image runs without importing it (styleport/light.py).
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

import numpy as np
from PIL import Image

from styleport.errors import ImageError, UsageError
from styleport.images import DEFAULT_MAX_PIXELS


@dataclasses.dataclass(frozen=True)
class StylizeOptions:
    size: int | None = None  # resize so the longer side is this many pixels
    scale: float | None = None  # or resize by this factor
    tile: int | None = None  # exact layer-streaming tiles of this size (styleport.tiling)
    keep_colors: bool = False  # style on luminance only, keep the photo's colors
    strength: float = 1.0  # 1 = fully stylized, 0 = the original
    style_index: int | None = None  # multi-style networks: pick one style
    style_weights: tuple[float, ...] | None = None  # ... or mix them
    max_pixels: int = DEFAULT_MAX_PIXELS  # refuse outputs larger than this (after size / scale)

    def __post_init__(self) -> None:
        if self.size is not None and self.scale is not None:
            raise UsageError("give --size or --scale, not both")
        if self.size is not None and not 1 <= self.size <= MAX_SIDE:
            raise UsageError(f"--size must be in 1..{MAX_SIDE}, got {self.size}")
        if self.scale is not None and not (math.isfinite(self.scale) and 0 < self.scale <= 16):
            raise UsageError(f"--scale must be in (0, 16], got {self.scale}")
        if self.max_pixels < 1:
            raise UsageError(f"--max-pixels must be >= 1, got {self.max_pixels}")
        if self.style_weights is not None and not all(math.isfinite(w) for w in self.style_weights):
            raise UsageError(f"--style-weights must be finite numbers, got {','.join(map(str, self.style_weights))}")
        if not 0.0 <= self.strength <= 1.0:
            raise UsageError(f"--strength must be between 0 and 1, got {self.strength}")
        if self.style_index is not None and self.style_weights is not None:
            raise UsageError("give --style-index or --style-weights, not both")
        if self.tile is not None:
            from styleport.tiling import check_tile

            check_tile(self.tile)


def target_size(width: int, height: int, options: StylizeOptions) -> tuple[int, int]:
    if options.size is not None:
        factor = options.size / max(width, height)
    elif options.scale is not None:
        factor = options.scale
    else:
        return width, height
    return max(1, round(width * factor)), max(1, round(height * factor))


def keep_colors(stylized: Image.Image, original: Image.Image) -> Image.Image:
    """Luminance from the stylized image, chroma (Cb, Cr) from the original (Gatys et al. 2016)."""
    y, _, _ = stylized.convert("YCbCr").split()
    _, cb, cr = original.resize(stylized.size, Image.Resampling.BICUBIC).convert("YCbCr").split()
    return Image.merge("YCbCr", (y, cb, cr)).convert("RGB")


MIN_SIDE = 8  # the network's reflection pads need H, W >= 5; exported files share that limit
MAX_SIDE = 65_535  # longest side accepted for --size (the pixel limit is --max-pixels)


def check_output_pixels(width: int, height: int, options: StylizeOptions, name: str = "image") -> tuple[int, int]:
    """The output size for an input of ``width`` x ``height``, refused above ``options.max_pixels``."""
    w, h = target_size(width, height, options)
    if w * h > options.max_pixels:
        raise ImageError(
            f"{name}: output {w}x{h} = {w * h / 1e6:.1f} megapixels is above the limit of "
            f"{options.max_pixels / 1e6:g} MP (lower --size/--scale, or raise --max-pixels and use --tile)"
        )
    return w, h


def as_pil(image) -> Image.Image:
    """A PIL image, or an (H,W,3) / (H,W) uint8 numpy array; anything else is an ImageError."""
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
            raise ImageError(
                f"numpy image must be (H,W,3) uint8 RGB (or (H,W,4) / (H,W)), got {image.shape} {image.dtype}"
            )
        return Image.fromarray(np.ascontiguousarray(image))
    if not isinstance(image, Image.Image):
        raise ImageError(f"expected a PIL image or a numpy uint8 array, got {type(image).__name__}")
    return image


def forward_bytes(c1: int, c2: int, width: int, height: int, tiled: bool = False) -> int:
    """Estimated peak bytes of one fp32 forward pass at ``width`` x ``height`` of a network whose
    first two convs have ``c1`` and ``c2`` channels.

    The largest full-resolution moment is the last upsample: the (c2,H,W) upsampled map, its
    reflection-padded copy and the (c1,H,W) conv output, plus input/output planes. Tiled runs
    keep full-size activations in host memory too, at about 0.45x the peak (DESIGN.md, Tiling).
    """
    return int(4 * (2 * c2 + c1 + 12) * width * height * (0.45 if tiled else 1.0))


def host_available_bytes() -> int | None:
    """Free host memory (MemAvailable), None if unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_forward_memory(
    c1: int, c2: int, width: int, height: int, tiled: bool, name: str = "image", factor: float = 1.0
) -> None:
    """Refuse, before any work, an output size whose forward pass cannot fit in free memory
    (``factor``: the engine's measured peak over ``forward_bytes``)."""
    need = int(factor * forward_bytes(c1, c2, width, height, tiled))
    free = host_available_bytes()  # full-size maps live in host memory on every device
    if free is not None and need > free:
        hint = "a smaller --size/--scale" if tiled else "a smaller --size/--scale, or --tile 1024"
        raise ImageError(
            f"{name}: stylizing at {width}x{height} needs about {need / 2**30:.1f} GiB, more than the "
            f"{free / 2**30:.1f} GiB of memory available; use {hint}"
        )


def style_mix(num_styles: int, options: StylizeOptions) -> np.ndarray | None:
    """(S,) float64 mixing weights (normalised to sum 1) for multi-style nets; None for single-style."""
    s = num_styles
    if s == 1:
        if options.style_index not in (None, 0) or (options.style_weights and len(options.style_weights) != 1):
            raise UsageError("this network has a single style: --style-index/--style-weights do not apply")
        return None
    if options.style_weights is not None:
        w = np.asarray(options.style_weights, dtype=np.float64)
        if w.shape != (s,):
            raise UsageError(f"--style-weights needs {s} comma-separated values (one per style), got {len(w)}")
        if (w < 0).any() or w.sum() <= 0:
            raise UsageError("--style-weights must be >= 0 and not all zero")
        return w / w.sum()
    index = options.style_index or 0
    if not 0 <= index < s:
        raise UsageError(f"--style-index {index} out of range: the network has {s} styles (0..{s - 1})")
    return np.eye(s)[index]


def finish(out: Image.Image, original: Image.Image, options: StylizeOptions) -> Image.Image:
    """The network's output -> the result: colors kept and/or blended with the original if asked."""
    if options.keep_colors:
        out = keep_colors(out, original)
    if options.strength < 1.0:
        out = Image.blend(original, out, options.strength)
    return out


def prepare(image, options: StylizeOptions, check=None) -> tuple[Image.Image, bool]:
    """A PIL image or uint8 array -> (the RGB image at the output size, whether the input was an array).

    Refuses empty images and outputs above ``options.max_pixels``, then calls ``check(width, height,
    name)`` (an engine's memory check) before a lazily opened file decodes."""
    is_array = isinstance(image, np.ndarray)
    pil = as_pil(image)
    if pil.width < 1 or pil.height < 1:
        raise ImageError(f"image has no pixels ({pil.width}x{pil.height})")
    size = check_output_pixels(pil.width, pil.height, options)
    if check is not None:
        check(*size, name=getattr(pil, "filename", "") or "image")
    try:
        original = pil.convert("RGB")  # a lazily opened file decodes here
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        name = getattr(pil, "filename", "") or "image"
        raise ImageError(f"{name}: truncated or corrupt image ({detail})") from None
    if size != original.size:
        original = original.resize(size, Image.Resampling.LANCZOS)
    return original, is_array


def parse_style_weights(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        weights = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise UsageError(f"--style-weights must be comma-separated numbers, e.g. 0.5,0.5 (got '{text}')") from None
    if not all(math.isfinite(w) and w >= 0 for w in weights):
        raise UsageError(f"--style-weights must be finite numbers >= 0 (got '{text}')")
    return weights
