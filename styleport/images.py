"""Image I/O: anything Pillow reads becomes correct RGB (+ optional alpha); saves are atomic.

Handled deliberately:
- EXIF orientation is applied (phones store rotated pixels + a tag).
- CMYK, grayscale (L, 1), palette (P, with or without transparency), LA/RGBA/PA, YCbCr, LAB, HSV,
  16-bit grayscale (I;16*, I) scaled by 1/257 (Pillow's plain convert would clip at 255), float F.
- Alpha is split off and returned so it can be re-attached on save.
- Size: Pillow's decompression-bomb guard is replaced by our own explicit limit (``max_pixels``),
  checked from the header before decoding, with a message saying how to raise it.
- Corrupt, truncated or non-image files raise one ImageError naming the file.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from styleport.errors import ImageError, UsageError
from styleport.fileutil import atomic_output

if TYPE_CHECKING:
    import torch

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".ppm", ".pgm"})
DEFAULT_MAX_PIXELS = 300_000_000  # ~ 20000 x 15000; override with --max-pixels / max_pixels=
_SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N", "I"}


@dataclasses.dataclass(frozen=True)
class LoadedImage:
    rgb: Image.Image  # mode "RGB", orientation applied
    alpha: Image.Image | None  # mode "L", same size, or None
    path: Path | None = None
    frames: int = 1  # animated GIF / multi-page TIFF: only the first frame is used

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.size


def is_image_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


SAMPLES_DIR = Path(__file__).resolve().parent / "data" / "samples"


# Held-out verification: calibration (int8 scales, fp16 ranges) and verification (export checks,
# parity, verify) never share a photo, so no reported number is measured on the photos a quantizer
# was fitted to. Licenses: data/samples/LICENSES.md.
SAMPLE_SETS: dict[str, tuple[str, ...]] = {
    "calibration": ("colosseum.jpg", "hawaMahal.jpg", "machuPicchu.jpg"),
    "verification": ("eiffelTower.jpg", "montStMichel.jpg", "neuschwansteinCastle.jpg"),
}


def sample_photos(role: str = "all") -> tuple[Path, ...]:
    """The bundled sample photos (package data): ``"calibration"``, ``"verification"`` or ``"all"`` (the demo)."""
    if role == "all":
        return tuple(sorted(p for p in SAMPLES_DIR.iterdir() if p.is_file() and is_image_file(p)))
    if role not in SAMPLE_SETS:
        raise UsageError(f"unknown sample photo set '{role}' (choose from: all, {', '.join(SAMPLE_SETS)})")
    paths = tuple(SAMPLES_DIR / name for name in SAMPLE_SETS[role])
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise ImageError(f"{SAMPLES_DIR}: bundled {role} photos missing ({', '.join(missing)}); reinstall styleport")
    return paths


def _to_rgb(img: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    mode = img.mode
    if mode in _SIXTEEN_BIT:
        arr = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        arr8 = np.clip(np.rint(arr * (255.0 / hi)), 0, 255).astype(np.uint8)
        return Image.fromarray(arr8, "L").convert("RGB"), None
    if mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        hi = 1.0 if arr.max(initial=0) <= 1.0 else 255.0
        arr8 = np.clip(np.rint(arr * (255.0 / hi)), 0, 255).astype(np.uint8)
        return Image.fromarray(arr8, "L").convert("RGB"), None
    if mode == "P":
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
        mode = img.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        alpha = rgba.getchannel("A")
        if alpha.getextrema() == (255, 255):
            alpha = None  # fully opaque: nothing to re-attach
        return rgba.convert("RGB"), alpha
    if mode == "RGB":
        return img, None
    return img.convert("RGB"), None  # CMYK, L, 1, YCbCr, LAB, HSV, ...


def load_image(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Read ``path`` into RGB (+ alpha). Raises ImageError with one line on any problem."""
    path = Path(path)
    if not path.exists():
        raise ImageError(f"{path}: no such file")
    if path.is_dir():
        raise ImageError(f"{path}: is a directory, not an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            old_limit = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None  # our own limit below, checked before decoding
            try:
                with Image.open(path) as img:
                    frames = int(getattr(img, "n_frames", 1) or 1)
                    w, h = img.size
                    if w * h > max_pixels:
                        raise ImageError(
                            f"{path}: {w}x{h} = {w * h / 1e6:.3g} megapixels is above the limit of "
                            f"{max_pixels / 1e6:.3g} MP (styleport stylize: raise it with --max-pixels, and use --tile)"
                        )
                    if w < 1 or h < 1:
                        raise ImageError(f"{path}: image has no pixels ({w}x{h})")
                    img.load()
                    img = ImageOps.exif_transpose(img)
                    rgb, alpha = _to_rgb(img)
                    rgb.load()
            finally:
                Image.MAX_IMAGE_PIXELS = old_limit
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image (Pillow cannot identify the format)") from None
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "truncated" in detail.lower() or isinstance(exc, EOFError):
            raise ImageError(f"{path}: truncated image file ({detail})") from None
        raise ImageError(f"{path}: corrupt or unreadable image ({detail})") from None
    return LoadedImage(rgb=rgb, alpha=alpha, path=path, frames=frames)


def pil_to_tensor(img: Image.Image) -> torch.Tensor:
    """RGB PIL image -> (1,3,H,W) float32 0..255."""
    import torch

    arr = np.asarray(img.convert("RGB"), dtype=np.float32)  # (H,W,3)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).unsqueeze(0)  # (H,W,3) -> (1,3,H,W)


def tensor_to_pil(t: torch.Tensor) -> Image.Image:
    """(1,3,H,W) or (3,H,W) float 0..255 -> RGB PIL image (rounded, clamped)."""
    import torch

    if t.dim() == 4:
        t = t[0]
    arr = t.detach().float().clamp(0, 255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()  # (3,H,W) -> (H,W,3)
    return Image.fromarray(arr, "RGB")


def _format_for(path: Path) -> str:
    ext = path.suffix.lower()
    Image.preinit()  # the common formats; all ~50 plugins (Image.init) only for a rarer extension
    fmt = Image.EXTENSION.get(ext) or Image.registered_extensions().get(ext)
    if fmt is None or ext not in IMAGE_EXTENSIONS:
        raise UsageError(f"{path}: unsupported output extension '{ext or '(none)'}' (use .png, .jpg, .webp, ...)")
    return fmt


# zlib level for PNG output. Stylized photos are noisy and compress poorly at any level: on a
# 1080x1920 result, level 1 wrote 4141 KiB in 0.19 s, Pillow's default 6 wrote 3892 KiB (6% less)
# in 0.63 s -- a tenth of a full-HD `styleport stylize` run (docs/performance.md, "PNG output").
PNG_COMPRESS_LEVEL = 1


def save_image(path: str | os.PathLike, img: Image.Image, alpha: Image.Image | None = None, quality: int = 95) -> Path:
    """Save atomically in the format the extension names, re-attaching ``alpha`` where it fits."""
    path = Path(path)
    fmt = _format_for(path)
    out = img.convert("RGB")
    if alpha is not None and fmt in ("PNG", "WEBP", "TIFF", "GIF"):
        if alpha.size != out.size:
            alpha = alpha.resize(out.size, Image.Resampling.BILINEAR)
        out = out.copy()
        out.putalpha(alpha)
    params: dict = {}
    if fmt in ("JPEG", "WEBP"):
        params["quality"] = quality
    elif fmt == "PNG":
        params["compress_level"] = PNG_COMPRESS_LEVEL
    with atomic_output(path) as tmp:
        out.save(tmp, format=fmt, **params)
    return path
