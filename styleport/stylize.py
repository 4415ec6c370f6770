"""Stylizing images with a style network: device/precision choice, resizing, tiling, color
preservation, strength blending and style mixing. The Python API behind ``styleport.load``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os

import numpy as np
import torch
from PIL import Image

from styleport import checkpoints
from styleport.errors import ImageError, UsageError
from styleport.images import DEFAULT_MAX_PIXELS, pil_to_tensor, tensor_to_pil
from styleport.model import TransformerNet
from styleport.precision import Precision, auto_precision
from styleport.subpixel import fuse


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


def resolve_device(name: str = "auto") -> torch.device:
    """auto -> cuda if present, else mps, else cpu. An unavailable explicit device is an error."""
    name = name.lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError("--device cuda requested but no CUDA device is available (use --device cpu or auto)")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UsageError("--device mps requested but MPS is not available (use --device cpu or auto)")
    if not (name == "cpu" or name == "mps" or name.startswith("cuda")):
        raise UsageError(f"unknown device '{name}' (choose from auto, cpu, cuda, mps)")
    return torch.device(name)


def check_precision(precision: Precision, device: torch.device) -> None:
    if precision not in (Precision.FP32, Precision.BF16, Precision.FP16):
        raise UsageError(f"stylize runs fp32, bf16 or fp16, not {precision} (that is an export precision)")
    if precision is Precision.FP16 and device.type == "cpu":
        raise UsageError(
            "fp16 needs a GPU (cuda or mps); on CPU fp16 is emulated and ~100x slower: use --precision bf16"
        )


def resolve_style_weights(model: TransformerNet, options: StylizeOptions) -> torch.Tensor | None:
    """(1,S) mixing weights (normalised to sum 1) for multi-style nets; None for single-style."""
    s = model.num_styles
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
        return torch.tensor(w / w.sum(), dtype=torch.float32)[None]  # (S,) -> (1,S)
    index = options.style_index or 0
    if not 0 <= index < s:
        raise UsageError(f"--style-index {index} out of range: the network has {s} styles (0..{s - 1})")
    return model.default_style_weights(index).cpu()


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


class Stylizer:
    """A loaded style network ready to stylize PIL images (``styleport.load(path)``)."""

    def __init__(
        self,
        model: TransformerNet,
        checkpoint: checkpoints.Checkpoint | None = None,
        device: str | torch.device = "auto",
        precision: Precision | str = Precision.FP32,
    ) -> None:
        self.device = device if isinstance(device, torch.device) else resolve_device(device)
        if isinstance(precision, str) and precision.strip().lower() == "auto":
            self.precision, self.precision_reason = auto_precision(self.device)
        else:
            self.precision = precision if isinstance(precision, Precision) else Precision.parse(precision)
            self.precision_reason = "chosen with --precision"
        check_precision(self.precision, self.device)
        self.model = model.to(self.device).eval()
        # Untiled runs use an exact rewrite of the upsampling convs (styleport.subpixel, 2.25x fewer
        # FLOPs there), derived from the weights now: change ``model`` later and build a new Stylizer.
        self.fast_model = fuse(self.model)
        self.checkpoint = checkpoint

    @classmethod
    def from_file(cls, path: str | os.PathLike, device: str = "auto", precision: str = "fp32") -> Stylizer:
        """``precision``: fp32, bf16, fp16 or auto (``styleport.precision.auto_precision``)."""
        ckpt = checkpoints.load(path)
        return cls(ckpt.build("cpu"), ckpt, device=device, precision=precision)

    @property
    def style_names(self) -> list[str]:
        return self.checkpoint.style_names if self.checkpoint else [f"style{i}" for i in range(self.model.num_styles)]

    def _autocast(self):
        if self.precision is Precision.FP32:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.precision.torch_dtype)

    @torch.inference_mode()
    def run_tensor(
        self, x: torch.Tensor, style_weights: torch.Tensor | None = None, tile: int | None = None
    ) -> torch.Tensor:
        """(1,3,H,W) float32 0..255 on CPU -> (1,3,H,W) float32 0..255 on CPU."""
        h, w = x.shape[-2:]
        if min(h, w) < MIN_SIDE:
            # Reflection padding needs >= 5 px; grow tiny images by edge replication, crop after.
            # (1,3,h,w) -> (1,3,max(h,MIN_SIDE),max(w,MIN_SIDE))
            x = torch.nn.functional.pad(x, (0, max(0, MIN_SIDE - w), 0, max(0, MIN_SIDE - h)), mode="replicate")
        if tile is not None:
            from styleport.tiling import tiled_forward

            dtype = self.precision.torch_dtype
            y = tiled_forward(self.model, x, style_weights, tile=tile, device=self.device, dtype=dtype)
        else:
            sw = style_weights.to(self.device) if style_weights is not None else None
            with self._autocast():
                y = self.fast_model(x.to(self.device), sw)
        return y[:, :, :h, :w].float().cpu()

    def memory_needed(self, width: int, height: int, tiled: bool = False) -> int:
        """Estimated peak bytes of one forward pass at ``width`` x ``height`` (fp32).

        The largest full-resolution moment is the last upsample: the (c2,H,W) upsampled map, its
        reflection-padded copy and the (c1,H,W) conv output, plus input/output planes. Tiled runs
        keep full-size activations in host memory too, at about 0.45x the peak (DESIGN.md, Tiling).
        """
        c1, c2, _ = self.model.config.channels
        per_pixel = 4 * (2 * c2 + c1 + 12)
        return int(per_pixel * width * height * (0.45 if tiled else 1.0))

    def check_memory(self, width: int, height: int, tiled: bool = False, name: str = "image") -> None:
        """Refuse, before any work, an output size whose forward pass cannot fit in free memory."""
        from styleport.optimize import available_bytes

        need = self.memory_needed(width, height, tiled)
        free = available_bytes(torch.device("cpu"))  # full-size maps live in host memory on every device
        if free is not None and need > free:
            hint = "a smaller --size/--scale" if tiled else "a smaller --size/--scale, or --tile 1024"
            raise ImageError(
                f"{name}: stylizing at {width}x{height} needs about {need / 2**30:.1f} GiB, more than the "
                f"{free / 2**30:.1f} GiB of memory available; use {hint}"
            )

    def stylize(self, image, options: StylizeOptions | None = None, **kwargs):
        """Stylize a PIL image (any mode; alpha is ignored here, see images.save_image) or an (H,W,3)
        uint8 numpy array (returns the same kind)."""
        options = options or StylizeOptions(**kwargs)
        is_array = isinstance(image, np.ndarray)
        pil = as_pil(image)
        if pil.width < 1 or pil.height < 1:
            raise ImageError(f"image has no pixels ({pil.width}x{pil.height})")
        size = check_output_pixels(pil.width, pil.height, options)
        self.check_memory(*size, tiled=options.tile is not None, name=getattr(pil, "filename", "") or "image")
        try:
            original = pil.convert("RGB")  # a lazily opened file decodes here
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            name = getattr(pil, "filename", "") or "image"
            raise ImageError(f"{name}: truncated or corrupt image ({detail})") from None
        if size != original.size:
            original = original.resize(size, Image.Resampling.LANCZOS)
        sw = resolve_style_weights(self.model, options)
        out = tensor_to_pil(self.run_tensor(pil_to_tensor(original), sw, options.tile))
        if options.keep_colors:
            out = keep_colors(out, original)
        if options.strength < 1.0:
            out = Image.blend(original, out, options.strength)
        return np.asarray(out) if is_array else out


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
