"""Exact inference rewrite of the upsampling convs: nearest x2 + reflect pad 1 + conv 3x3 becomes
replicate pad 1 + conv 2x2 with 4x the output channels + depth-to-space, 2.25x fewer FLOPs.

Why it is exact (one axis; the 2-D case is the product of two such axes). Let X have h rows and
U = nearest x2 of X (U[i] = X[i // 2], 2h rows). Reflect-padding U by 1 gives P[-1] = U[1] = X[0]
and P[2h] = U[2h-2] = X[h-1]: the same values as upsampling the *replicate*-padded map
R = [X[0], X[0..h-1], X[h-1]] and cropping one row each side. A 3x3 tap (W0, W1, W2) on P sees
only two distinct rows of R, so each output row is a 2-tap filter on R:

    out[2a]   = W0 * X[a-1] + (W1 + W2) * X[a]        (X[-1] = X[0]: the replicated row)
    out[2a+1] = (W0 + W1) * X[a] + W2 * X[a+1]        (X[h]  = X[h-1])

Output rows 2t-1 and 2t read the same two rows R[t], R[t+1] (= X[t-1], X[t]), so ONE 2x2 conv
over R (h+2 rows -> h+1 rows) with two row-phases makes them: phase 0 -> out[2t-1] with taps
(W0 + W1, W2), phase 1 -> out[2t] with taps (W0, W1 + W2). Depth-to-space interleaves the phases
into D[2t + q] = out[2t - 1 + q], i.e. out = D[1 : 2h+1]: a uniform crop of one row each side.
Per output pixel the conv does 4 multiply-adds per (in, out) channel pair instead of 9.

The 2x2 kernels are derived from the stored 3x3 weights when a model is prepared for inference
or export (``fuse``), so checkpoints keep pytorch/examples' keys and training keeps the original
form. Channel order: torch ``pixel_shuffle`` and ONNX DepthToSpace mode CRD read output channel
``o * 4 + qy * 2 + qx``; TensorFlow ``depth_to_space`` (and TFLite / TF.js) read
``(qy * 2 + qx) * O + o`` (ONNX mode DCR) -- ``subpixel_weight(..., order=...)`` gives either.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from styleport.model import ConvLayer, TransformerNet, reflect_pad
from styleport.subpixel_kernels import phase_kernels, space_to_depth_kernels

UPSAMPLING = ("deconv1", "deconv2")


def _derived(kernels, weight: torch.Tensor, order: str) -> torch.Tensor:
    """``kernels`` (a styleport.subpixel_kernels function) of ``weight`` in float64, cast back to its dtype and device."""
    k = kernels(weight.detach().to("cpu", torch.float64).numpy(), order)
    return torch.from_numpy(k).to(device=weight.device, dtype=weight.dtype).contiguous()


def subpixel_weight(weight: torch.Tensor, order: str = "CRD") -> torch.Tensor:
    """(O,I,3,3) conv weight -> (4*O,I,2,2) phase kernels (``styleport.subpixel_kernels``, float64),
    cast back to the weight's dtype and device; ``order`` "CRD" or "DCR" as there."""
    return _derived(phase_kernels, weight, order)


def subpixel_bias(bias: torch.Tensor, order: str = "CRD") -> torch.Tensor:
    """(O,) -> (4*O,), the bias of every phase in the order of ``subpixel_weight``."""
    b = bias.detach()
    return (b.repeat_interleave(4) if order == "CRD" else b.repeat(4)).contiguous()


def replicate_pad1(x: torch.Tensor) -> torch.Tensor:
    """Replicate padding by 1 that keeps the dtype under autocast (see ``model.reflect_pad``)."""
    if torch.amp.is_autocast_available(x.device.type) and torch.is_autocast_enabled(x.device.type):
        with torch.autocast(x.device.type, enabled=False):
            return F.pad(x, (1, 1, 1, 1), mode="replicate")
    return F.pad(x, (1, 1, 1, 1), mode="replicate")


class SubpixelConv(nn.Module):
    """Inference-only exact replacement of ``ConvLayer(c_in, c_out, 3, upsample=2)``."""

    kernel, stride, upsample = 3, 1, 2

    def __init__(self, layer: ConvLayer) -> None:
        super().__init__()
        if (layer.kernel, layer.stride, layer.upsample) != (3, 1, 2):
            raise ValueError("SubpixelConv replaces only nearest-x2 + 3x3 stride-1 ConvLayers")
        self.register_buffer("weight", subpixel_weight(layer.conv2d.weight))
        self.register_buffer("bias", subpixel_bias(layer.conv2d.bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = replicate_pad1(x)  # (B,C,h,w) -> (B,C,h+2,w+2)
        y = F.conv2d(x, self.weight, self.bias)  # -> (B,4*O,h+1,w+1)
        y = F.pixel_shuffle(y, 2)  # -> (B,O,2h+2,2w+2)
        return y[:, :, 1:-1, 1:-1]  # -> (B,O,2h,2w)


class PhaseOutputConv(nn.Module):
    """Inference-only exact replacement of a stride-1 ``ConvLayer`` with an odd kernel (the network's
    last 9x9 conv, C -> 3): space-to-depth, a (K//2+1)^2 conv with 4x the channels on both sides,
    depth-to-space (``styleport.subpixel_kernels.space_to_depth_kernels`` says why it is exact).
    3 output channels make a thin GEMM; 12 make a better one (2x faster on oneDNN at 1080x1920)."""

    def __init__(self, layer: ConvLayer) -> None:
        super().__init__()
        if layer.stride != 1 or layer.upsample != 1 or layer.kernel % 2 == 0:
            raise ValueError("PhaseOutputConv replaces only stride-1 ConvLayers with an odd kernel")
        self.pad = layer.kernel // 2
        self.register_buffer("weight", _derived(space_to_depth_kernels, layer.conv2d.weight, "CRD"))
        self.register_buffer("bias", subpixel_bias(layer.conv2d.bias))  # each output phase's bias, CRD order

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x = reflect_pad(x, self.pad)  # (B,C,H,W) -> (B,C,H+2p,W+2p)
        if h % 2 or w % 2:  # an odd side gets one more row/column, whose output is cropped below
            x = F.pad(x, (0, w % 2, 0, h % 2))
        y = F.conv2d(F.pixel_unshuffle(x, 2), self.weight, self.bias)  # -> (B,4C,.,.) -> (B,4O,ceil(H/2),ceil(W/2))
        return F.pixel_shuffle(y, 2)[:, :, :h, :w]  # -> (B,O,H,W)


def fuse(model: TransformerNet, output_phases: bool = False) -> TransformerNet:
    """An inference copy of ``model`` (eval mode, same device) with ``SubpixelConv`` upsampling layers
    and, with ``output_phases``, a ``PhaseOutputConv`` last layer (the torch stylize path and the ONNX /
    ORT fp32 and fp16 exports; CoreML, TFLite, TF.js and int8 files keep the plain conv).

    The copy's kernels are derived from ``model``'s weights now: later changes to ``model``
    do not reach it. ``model`` itself is not modified.
    """
    fast = copy.deepcopy(model).eval()
    for name in UPSAMPLING:
        layer = getattr(fast, name)
        if isinstance(layer, ConvLayer):
            setattr(fast, name, SubpixelConv(layer))
    if output_phases and isinstance(fast.deconv3, ConvLayer):
        fast.deconv3 = PhaseOutputConv(fast.deconv3)
    for p in fast.parameters():
        p.requires_grad_(False)
    return fast


def is_fused(model: TransformerNet) -> bool:
    return all(isinstance(getattr(model, n), SubpixelConv) for n in UPSAMPLING)


def rewrite_for(precision) -> bool:
    """Whether an exported artifact of ``precision`` gets this rewrite (one policy for every format).

    fp32 and fp16 ONNX/CoreML: yes (exact). Weight-quantized precisions (int8, uint8, palettes): no --
    their converters would quantize the derived 2x2 kernels, not the checkpoint's 3x3 weights, and the
    verification's quantization-emulated reference (``styleport.verification.emulate``) reproduces the
    declared scheme on the checkpoint's own weights. TF.js/TFLite fp16 also keep the original convs
    (``styleport.export.tfgraph.use_subpixel``).
    """
    from styleport.precision import Precision

    return precision in (Precision.FP32, Precision.FP16)
