"""The PyTorch runtime: the reference every other runtime is compared with.

Runs a checkpoint (``.pth``) eagerly on cpu / cuda / mps in fp32, bf16 or fp16. ``device="auto"``
picks cuda, then mps, then cpu. Reduced precisions cast the weights and the input (the
output is returned as float32); ``info.device`` reports where it actually ran.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from styleport.errors import UsageError
from styleport.precision import Precision, cuda_conv_flags
from styleport.runtimes.base import RunInfo, Runtime, RuntimeUnavailable, Session, check_image

PRECISIONS = (Precision.FP32, Precision.BF16, Precision.FP16)


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    kind = device.split(":")[0]
    if kind == "cuda" and not torch.cuda.is_available():
        raise RuntimeUnavailable(
            f"torch device '{device}' requested but CUDA is not available in this torch build/machine"
        )
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise RuntimeUnavailable(
            f"torch device '{device}' requested but MPS is not available (needs macOS + Apple GPU)"
        )
    if kind not in ("cpu", "cuda", "mps"):
        raise UsageError(f"unknown torch device '{device}' (choose from: auto, cpu, cuda[:N], mps)")
    return device


class TorchSession(Session):
    def __init__(self, model, device: str, precision: Precision) -> None:
        import torch

        self.torch = torch
        self.dtype = precision.torch_dtype
        self.precision = precision
        self.device = device
        self.model = model.to(device=device, dtype=self.dtype).eval()
        self.info = RunInfo(
            runtime="torch",
            device=device,
            provider=f"eager {precision.value}",
            threads=torch.get_num_threads() if device == "cpu" else None,
        )

    def run(self, image: np.ndarray, style_weights: np.ndarray | None = None) -> np.ndarray:
        torch = self.torch
        image = check_image(image)
        # (H,W,3) -> (1,3,H,W)
        x = torch.from_numpy(image).permute(2, 0, 1)[None].to(self.device, self.dtype)
        sw = None
        if style_weights is not None:
            sw = torch.as_tensor(np.asarray(style_weights, np.float32)).reshape(1, -1).to(self.device, self.dtype)
        with torch.inference_mode(), cuda_conv_flags(self.precision, torch.device(self.device).type):
            y = self.model(x, sw)
        # (1,3,H,W) -> (H,W,3)
        return y[0].permute(1, 2, 0).float().cpu().numpy()


class TorchRuntime(Runtime):
    name = "torch"
    formats = ("torch",)
    enable_hint = "pip install styleport"

    def device_for(self, device: str) -> str | None:
        return device if device in ("auto", "cpu", "cuda") else None

    @classmethod
    def availability(cls) -> str | None:
        return None  # torch is a core dependency

    def open(self, path: Path, device: str = "auto", precision: str | Precision = Precision.FP32, **options) -> Session:
        if options:
            raise UsageError(f"torch runtime: unknown options {', '.join(sorted(options))} (accepts: precision)")
        from styleport.checkpoints import load

        precision = Precision.parse(precision) if isinstance(precision, str) else precision
        if precision not in PRECISIONS:
            raise UsageError(f"torch runtime runs {', '.join(p.value for p in PRECISIONS)}, not {precision}")
        return TorchSession(load(path).build("cpu"), resolve_device(device), precision)

    def session_for(self, model, device: str = "cpu", precision: Precision = Precision.FP32) -> TorchSession:
        """A session around an in-memory TransformerNet (used for the export reference)."""
        import copy

        return TorchSession(copy.deepcopy(model), resolve_device(device), precision)
