"""The style network: Johnson et al. 2016 TransformerNet, the source of truth for every format.

Architecture (width 1.0 = the paper, pytorch/examples' fast_neural_style)::

    conv 9x9 32 - conv 3x3/2 64 - conv 3x3/2 128 - 5 residual blocks (128)
    - nearest x2 + conv 3x3 64 - nearest x2 + conv 3x3 32 - conv 9x9 3

Every conv is preceded by reflection padding of kernel//2; every conv but the last is followed by
an affine instance norm and a ReLU (the second conv of a residual block: norm, no ReLU).

State-dict keys are exactly those of pytorch/examples' TransformerNet (``conv1.conv2d.weight``,
``in1.weight``, ``res1.conv1.conv2d.weight``, ..., ``deconv3.conv2d.bias``: 62 tensors,
1,679,235 parameters at width 1.0), so its published ``.pth`` files load unchanged.

I/O contract (all formats): input ``image`` RGB float32 0..255, NCHW (1,3,H,W), any H and W >= 5
(the 9x9 reflection pad needs 5 px; ``Stylizer`` grows smaller images and crops back);
output ``stylized`` RGB float32 clamped to 0..255, the same (H,W). The plain network returns
4*ceil(H/4) x 4*ceil(W/4); the crop back to (H,W) happens inside ``forward`` so that every
exported format behaves the same. Multi-style networks (conditional instance norm, Dumoulin et
al. 2017) take a second input ``style_weights`` (1,S), mixing the S learned styles.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

ARCH = "johnson2016"
BASE_CHANNELS = (32, 64, 128)
# Upper bounds checked before a network is built (a crafted file must not make us allocate GBs).
MAX_CONFIG = {"num_styles": 1024, "res_blocks": 64}


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Architecture settings, stored in every checkpoint."""

    arch: str = ARCH
    width: float = 1.0  # channel multiplier: 1.0 paper, 0.5 jcjohnson's half-width models
    num_styles: int = 1  # > 1: conditional instance norm with a style_weights input
    res_blocks: int = 5

    def __post_init__(self) -> None:
        if self.arch != ARCH:
            raise ValueError(f"unknown architecture '{self.arch}' (supported: {ARCH})")
        if not isinstance(self.width, (int, float)) or not 0.05 <= self.width <= 4.0:
            raise ValueError(f"width must be in [0.05, 4], got {self.width}")
        for name in ("num_styles", "res_blocks"):
            value, top = getattr(self, name), MAX_CONFIG[name]
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= top:
                raise ValueError(f"{name} must be an integer in 1..{top}, got {value!r}")
        if not isinstance(self.width, (int, float)) or isinstance(self.width, bool):
            raise ValueError(f"width must be a number, got {self.width!r}")

    @property
    def channels(self) -> tuple[int, int, int]:
        return tuple(max(4, int(round(c * self.width))) for c in BASE_CHANNELS)  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown model config keys: {', '.join(unknown)}")
        return cls(**data)


class ConvLayer(nn.Module):
    """Reflection pad (kernel//2) then conv. Keys: ``conv2d.weight``, ``conv2d.bias``."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, upsample: int = 1) -> None:
        super().__init__()
        self.kernel, self.stride, self.upsample = kernel, stride, upsample
        self.conv2d = nn.Conv2d(c_in, c_out, kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample > 1:
            # (B,C,H,W) -> (B,C,uH,uW)
            x = F.interpolate(x, scale_factor=self.upsample, mode="nearest")
        pad = self.kernel // 2
        return self.conv2d(reflect_pad(x, pad))


def reflect_pad(x: torch.Tensor, pad: int) -> torch.Tensor:
    """Reflection padding that keeps the activations' dtype under autocast.

    CPU autocast runs ``reflection_pad2d`` in fp32, so in bf16 training every conv input would be
    cast up and back down (full-size copies each layer, forward and backward; measured: the
    network's bf16 forward+backward at batch 4, 256 px takes 1.46 s with the casts, 1.07 s
    without). Padding only moves values, so it is exact in any dtype. Export and inference trace
    without autocast and see a plain pad.
    """
    if torch.amp.is_autocast_available(x.device.type) and torch.is_autocast_enabled(x.device.type):
        with torch.autocast(x.device.type, enabled=False):
            return F.pad(x, (pad, pad, pad, pad), mode="reflect")
    return F.pad(x, (pad, pad, pad, pad), mode="reflect")


class StyleInstanceNorm(nn.Module):
    """Affine instance norm, one (gamma, beta) per style; keys ``weight`` and ``bias``.

    With one style the parameters are (C,) and the op is exactly ``nn.InstanceNorm2d(C,
    affine=True)`` (eps 1e-5, biased variance). With S styles they are (S,C) and the affine
    parameters are the style-weighted mix: gamma = style_weights @ weight, (1,S)@(S,C) -> (1,C).
    """

    eps = 1e-5

    def __init__(self, channels: int, num_styles: int = 1) -> None:
        super().__init__()
        shape = (channels,) if num_styles == 1 else (num_styles, channels)
        self.num_styles = num_styles
        self.weight = nn.Parameter(torch.ones(shape))
        self.bias = nn.Parameter(torch.zeros(shape))

    def forward(self, x: torch.Tensor, style_weights: torch.Tensor | None = None) -> torch.Tensor:
        if self.num_styles == 1:
            return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)
        if style_weights is None:
            raise ValueError("this multi-style network needs style_weights of shape (B, num_styles)")
        x = F.instance_norm(x, eps=self.eps)
        gamma = (style_weights @ self.weight)[:, :, None, None]  # (B,S)@(S,C) -> (B,C,1,1)
        beta = (style_weights @ self.bias)[:, :, None, None]
        return x * gamma + beta


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, num_styles: int) -> None:
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3)
        self.in1 = StyleInstanceNorm(channels, num_styles)
        self.conv2 = ConvLayer(channels, channels, 3)
        self.in2 = StyleInstanceNorm(channels, num_styles)

    def forward(self, x: torch.Tensor, sw: torch.Tensor | None = None) -> torch.Tensor:
        out = F.relu(self.in1(self.conv1(x), sw))
        return x + self.in2(self.conv2(out), sw)


class TransformerNet(nn.Module):
    """Johnson et al. feed-forward style network. See the module docstring for the contract."""

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or ModelConfig()
        c1, c2, c3 = config.channels
        s = config.num_styles
        self.conv1, self.in1 = ConvLayer(3, c1, 9), StyleInstanceNorm(c1, s)
        self.conv2, self.in2 = ConvLayer(c1, c2, 3, stride=2), StyleInstanceNorm(c2, s)
        self.conv3, self.in3 = ConvLayer(c2, c3, 3, stride=2), StyleInstanceNorm(c3, s)
        for i in range(config.res_blocks):
            self.add_module(f"res{i + 1}", ResidualBlock(c3, s))
        self.deconv1, self.in4 = ConvLayer(c3, c2, 3, upsample=2), StyleInstanceNorm(c2, s)
        self.deconv2, self.in5 = ConvLayer(c2, c1, 3, upsample=2), StyleInstanceNorm(c1, s)
        self.deconv3 = ConvLayer(c1, 3, 9)

    @property
    def num_styles(self) -> int:
        return self.config.num_styles

    def residual_blocks(self) -> list[ResidualBlock]:
        return [getattr(self, f"res{i + 1}") for i in range(self.config.res_blocks)]

    def forward_raw(self, x: torch.Tensor, style_weights: torch.Tensor | None = None) -> torch.Tensor:
        """The unclamped, uncropped network: (B,3,H,W) -> (B,3,4*ceil(H/4),4*ceil(W/4)). For training."""
        sw = self._check_style_weights(x, style_weights)
        y = F.relu(self.in1(self.conv1(x), sw))
        y = F.relu(self.in2(self.conv2(y), sw))  # (B,c1,H,W) -> (B,c2,ceil(H/2),ceil(W/2))
        y = F.relu(self.in3(self.conv3(y), sw))  # -> (B,c3,ceil(H/4),ceil(W/4))
        for block in self.residual_blocks():
            y = block(y, sw)
        y = F.relu(self.in4(self.deconv1(y), sw))  # -> (B,c2,2*ceil(H/4),...)
        y = F.relu(self.in5(self.deconv2(y), sw))  # -> (B,c1,4*ceil(H/4),...)
        return self.deconv3(y)

    def forward(self, x: torch.Tensor, style_weights: torch.Tensor | None = None) -> torch.Tensor:
        """(B,3,H,W) RGB 0..255 -> (B,3,H,W) RGB clamped to 0..255."""
        h, w = x.shape[-2], x.shape[-1]
        y = self.forward_raw(x, style_weights)
        # (B,3,4*ceil(H/4),4*ceil(W/4)) -> (B,3,H,W)
        return y[:, :, :h, :w].clamp(0.0, 255.0)

    def default_style_weights(self, index: int = 0, batch: int = 1) -> torch.Tensor | None:
        """One-hot weights selecting style ``index``, or None for a single-style network."""
        if self.num_styles == 1:
            return None
        if not 0 <= index < self.num_styles:
            raise ValueError(f"style index {index} out of range (network has {self.num_styles} styles)")
        sw = torch.zeros(batch, self.num_styles, device=self.conv1.conv2d.weight.device)
        sw[:, index] = 1.0
        return sw

    def _check_style_weights(self, x: torch.Tensor, sw: torch.Tensor | None) -> torch.Tensor | None:
        if self.num_styles == 1:
            return None
        if sw is None:
            sw = self.default_style_weights(0, x.shape[0])
        if sw.dim() == 1:
            sw = sw[None].expand(x.shape[0], -1)  # (S,) -> (B,S)
        if sw.shape[-1] != self.num_styles:
            raise ValueError(f"style_weights must have {self.num_styles} entries, got {sw.shape[-1]}")
        return sw.to(dtype=x.dtype)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def gflops(model: TransformerNet, height: int, width: int) -> float:
    """Forward GFLOPs (multiply-add = 2 FLOPs) at (height, width), counted on the meta device."""
    from torch.utils.flop_counter import FlopCounterMode

    meta = TransformerNet(model.config).to("meta")
    x = torch.empty(1, 3, height, width, device="meta")
    sw = meta.default_style_weights(0)
    with FlopCounterMode(display=False) as counter:
        meta(x, sw)
    return counter.get_total_flops() / 1e9


def output_size(height: int, width: int) -> tuple[int, int]:
    """Size the raw network produces before the crop: 4*ceil(H/4) x 4*ceil(W/4)."""
    return 4 * math.ceil(height / 4), 4 * math.ceil(width / 4)
