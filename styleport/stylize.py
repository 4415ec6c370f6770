"""Stylizing images with a style network in PyTorch: device/precision choice and tiling. The Python
API behind ``styleport.load``. What is done to the image around the network (resizing, colors,
strength, style mixing) is in ``styleport.stylize_options``, shared with the torch-free small-image
path (``styleport.light``); its names are re-exported here.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np
import torch

from styleport import checkpoints
from styleport.errors import UsageError
from styleport.images import pil_to_tensor, tensor_to_pil
from styleport.model import TransformerNet
from styleport.precision import Precision, auto_precision, cuda_conv_flags
from styleport.stylize_options import (  # noqa: F401 -- used here, and re-exported where callers import them
    MAX_SIDE,
    MIN_SIDE,
    StylizeOptions,
    as_pil,
    check_forward_memory,
    check_output_pixels,
    finish,
    forward_bytes,
    keep_colors,
    parse_style_weights,
    prepare,
    style_mix,
    target_size,
)
from styleport.subpixel import fuse


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
    """(1,S) float32 mixing weights for multi-style nets (``stylize_options.style_mix``); None for single-style."""
    mix = style_mix(model.num_styles, options)
    return None if mix is None else torch.tensor(mix, dtype=torch.float32)[None]  # (S,) -> (1,S)


class Stylizer:
    """A loaded style network ready to stylize PIL images (``styleport.load(path)``)."""

    def __init__(
        self,
        model: TransformerNet,
        checkpoint: checkpoints.Checkpoint | None = None,
        device: str | torch.device = "auto",
        precision: Precision | str = Precision.FP32,
        channels_last: bool | None = None,
    ) -> None:
        """``channels_last``: run the network in NHWC memory format (None: on CUDA only, where tensor
        cores read NHWC and cuDNN has NHWC kernels; on CPU oneDNN picks its own blocked layout)."""
        self.device = device if isinstance(device, torch.device) else resolve_device(device)
        if isinstance(precision, str) and precision.strip().lower() == "auto":
            self.precision, self.precision_reason = auto_precision(self.device)
        else:
            self.precision = precision if isinstance(precision, Precision) else Precision.parse(precision)
            self.precision_reason = "chosen with --precision"
        check_precision(self.precision, self.device)
        self.model = model.to(self.device).eval()
        # Untiled runs use exact rewrites of the upsampling convs (styleport.subpixel, 2.25x fewer
        # FLOPs there) and of the last conv (space-to-depth), derived from the weights now: change
        # ``model`` later and build a new Stylizer.
        self.fast_model = fuse(self.model, output_phases=True)
        self.channels_last = self.device.type == "cuda" if channels_last is None else channels_last
        self.memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        if self.channels_last:
            self.fast_model = self.fast_model.to(memory_format=torch.channels_last)
        self.checkpoint = checkpoint

    @classmethod
    def from_file(cls, path: str | os.PathLike, device: str = "auto", precision: str = "fp32") -> Stylizer:
        """``precision``: fp32, bf16, fp16 or auto (``styleport.precision.auto_precision``)."""
        ckpt = checkpoints.load(path)
        return cls(ckpt.build("cpu"), ckpt, device=device, precision=precision)

    @property
    def num_styles(self) -> int:
        return self.model.num_styles

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
            with cuda_conv_flags(self.precision, self.device.type):
                y = tiled_forward(self.model, x, style_weights, tile=tile, device=self.device, dtype=dtype)
        else:
            sw = style_weights.to(self.device) if style_weights is not None else None
            x = x.to(self.device).contiguous(memory_format=self.memory_format)
            with self._autocast(), cuda_conv_flags(self.precision, self.device.type):
                y = self.fast_model(x, sw)
        return y[:, :, :h, :w].float().cpu()

    def memory_needed(self, width: int, height: int, tiled: bool = False) -> int:
        """Estimated peak bytes of one forward pass at ``width`` x ``height`` (``forward_bytes``)."""
        c1, c2, _ = self.model.config.channels
        return forward_bytes(c1, c2, width, height, tiled)

    def check_memory(self, width: int, height: int, tiled: bool = False, name: str = "image") -> None:
        """Refuse, before any work, an output size whose forward pass cannot fit in free memory."""
        c1, c2, _ = self.model.config.channels
        check_forward_memory(c1, c2, width, height, tiled, name)

    def stylize(self, image, options: StylizeOptions | None = None, **kwargs):
        """Stylize a PIL image (any mode; alpha is ignored here, see images.save_image) or an (H,W,3)
        uint8 numpy array (returns the same kind)."""
        options = options or StylizeOptions(**kwargs)
        tiled = options.tile is not None
        original, is_array = prepare(image, options, lambda w, h, name: self.check_memory(w, h, tiled, name))
        sw = resolve_style_weights(self.model, options)
        out = finish(tensor_to_pil(self.run_tensor(pil_to_tensor(original), sw, options.tile)), original, options)
        return np.asarray(out) if is_array else out
