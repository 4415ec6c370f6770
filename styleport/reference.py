"""The independent check: a second forward pass of the style network, in numpy float64.

Every exported artifact is compared with torch running ``styleport.model.TransformerNet`` loaded
by ``styleport.checkpoints``. A bug in either of those files would sit on both sides of that
comparison and pass unseen. This module is the second opinion: it shares no code with
``styleport/model.py`` or ``styleport/checkpoints.py`` (nor with torch's convolution kernels). It
reads the raw tensors with ``torch.load(weights_only=True)`` and from then on works in numpy
float64, with the layer sequence written out again from the paper (Johnson et al. 2016):

    pad(reflect, k//2) + conv k x k [stride s] [after nearest x2 upsampling] -> instance norm
    (eps 1e-5, biased variance, affine; conditional: gamma = style_weights @ W) -> ReLU, for
    conv1 (9x9), conv2 (3x3/2), conv3 (3x3/2); 5 residual blocks x + IN(conv(relu(IN(conv x))));
    deconv1, deconv2 (x2 nearest + 3x3); deconv3 (9x9, no norm); crop to (H,W); clamp 0..255.

Layer shapes (channels, kernel size, style count, residual block count) are read from the tensor
shapes, never from a config. ``eps`` and ``pad_mode`` are parameters so that the fault-injection
suite (``styleport.faults``) can compute a network with a wrong norm epsilon or wrong padding.

Tests hold it to frozen golden outputs of a committed checkpoint (tests/fixtures/golden/) and
compare every format x precision with it, so model.py and checkpoints.py are checked too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

import numpy as np

EPS = 1e-5
Weights = dict[str, np.ndarray]


def read_weights(path: str | os.PathLike) -> Weights:
    """Raw float64 tensors from a styleport checkpoint or a pytorch/examples state dict.

    Only the tensors are used: the ``module.`` prefix of DataParallel files and the unused 2017
    ``running_mean``/``running_var`` buffers are dropped. No styleport validation happens here.
    """
    import torch

    obj = torch.load(os.fspath(path), map_location="cpu", weights_only=True)
    raw = obj["state_dict"] if isinstance(obj, dict) and obj.get("format") == "styleport" else obj
    out: Weights = {}
    for key, value in raw.items():
        key = key.removeprefix("module.")
        if key.endswith(("running_mean", "running_var", "num_batches_tracked")):
            continue
        out[key] = value.detach().to(torch.float64).numpy()
    return out


def weights_of(state: Mapping[str, object]) -> Weights:
    """float64 numpy copies of a torch state_dict (or of arrays): for tests and the fault suite."""
    return {
        k: np.array(v.detach().double().numpy() if hasattr(v, "detach") else v, dtype=np.float64)
        for k, v in state.items()
    }


def _pad(x: np.ndarray, p: int, mode: str) -> np.ndarray:
    # (C,H,W) -> (C,H+2p,W+2p); numpy "reflect" excludes the edge pixel, as torch's reflection pad does
    return np.pad(x, ((0, 0), (p, p), (p, p)), mode=mode)


def _conv(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, stride: int) -> np.ndarray:
    """Valid cross-correlation: x (Ci,H,W), weight (Co,Ci,k,k) -> (Co,H',W'), row band by row band."""
    co, ci, k, _ = weight.shape
    h_out = (x.shape[1] - k) // stride + 1
    w_out = (x.shape[2] - k) // stride + 1
    w2 = weight.reshape(co, ci * k * k)  # (Co, Ci*k*k)
    out = np.empty((co, h_out, w_out))
    band = max(1, 2_000_000 // max(1, ci * k * k * w_out))  # bound the im2col buffer to ~16 MB
    for r0 in range(0, h_out, band):
        r1 = min(h_out, r0 + band)
        rows = x[:, r0 * stride : (r1 - 1) * stride + k, :]
        win = np.lib.stride_tricks.sliding_window_view(rows, (k, k), axis=(1, 2))  # (Ci,h,w,k,k)
        win = win[:, ::stride, ::stride][:, : r1 - r0, :w_out]
        cols = win.transpose(0, 3, 4, 1, 2).reshape(ci * k * k, -1)  # (Ci*k*k, h*w)
        out[:, r0:r1] = (w2 @ cols).reshape(co, r1 - r0, w_out)
    return out + bias[:, None, None]


def _norm(x: np.ndarray, w: Weights, name: str, sw: np.ndarray | None, eps: float) -> np.ndarray:
    gamma, beta = w[f"{name}.weight"], w[f"{name}.bias"]
    if gamma.ndim == 2:  # conditional instance norm: (S,) @ (S,C) -> (C,)
        gamma, beta = sw @ gamma, sw @ beta
    mean = x.mean(axis=(1, 2), keepdims=True)
    var = x.var(axis=(1, 2), keepdims=True)  # biased, as instance norm uses
    return (x - mean) / np.sqrt(var + eps) * gamma[:, None, None] + beta[:, None, None]


def _layer(x: np.ndarray, w: Weights, name: str, stride: int = 1, up: int = 1, pad_mode: str = "reflect") -> np.ndarray:
    weight = w[f"{name}.conv2d.weight"]
    if up > 1:
        x = x.repeat(up, axis=1).repeat(up, axis=2)  # nearest: (C,H,W) -> (C,2H,2W)
    return _conv(_pad(x, weight.shape[-1] // 2, pad_mode), weight, w[f"{name}.conv2d.bias"], stride)


def num_styles(w: Weights) -> int:
    return 1 if w["in1.weight"].ndim == 1 else w["in1.weight"].shape[0]


def forward(
    w: Weights,
    image: np.ndarray,
    style_weights: np.ndarray | None = None,
    eps: float = EPS,
    pad_mode: str = "reflect",
    clamp: bool = True,
) -> np.ndarray:
    """(H,W,3) RGB 0..255 -> (H,W,3) float64 stylized RGB (clamped to 0..255 unless ``clamp=False``)."""
    h, wd = image.shape[:2]
    styles = num_styles(w)
    sw = None
    if styles > 1:
        sw = np.eye(styles)[0] if style_weights is None else np.asarray(style_weights, np.float64).reshape(styles)
    x = np.asarray(image, np.float64).transpose(2, 0, 1)  # (H,W,3) -> (3,H,W)

    def block(x, conv, norm, relu=True, **kw):
        y = _norm(_layer(x, w, conv, pad_mode=pad_mode, **kw), w, norm, sw, eps)
        return np.maximum(y, 0.0) if relu else y

    x = block(x, "conv1", "in1")
    x = block(x, "conv2", "in2", stride=2)
    x = block(x, "conv3", "in3", stride=2)
    blocks = sorted({int(m.group(1)) for k in w if (m := re.match(r"res(\d+)\.", k))})
    for i in blocks:
        y = block(x, f"res{i}.conv1", f"res{i}.in1")
        x = x + block(y, f"res{i}.conv2", f"res{i}.in2", relu=False)
    x = block(x, "deconv1", "in4", up=2)
    x = block(x, "deconv2", "in5", up=2)
    y = _layer(x, w, "deconv3", pad_mode=pad_mode)[:, :h, :wd]  # (3,4*ceil(H/4),...) -> (3,H,W)
    y = y.transpose(1, 2, 0)  # (3,H,W) -> (H,W,3)
    return np.clip(y, 0.0, 255.0) if clamp else y


def forward_file(path: str | os.PathLike, image: np.ndarray, style_weights: np.ndarray | None = None) -> np.ndarray:
    """Convenience: ``forward(read_weights(path), image, style_weights)``."""
    return forward(read_weights(path), image, style_weights)
