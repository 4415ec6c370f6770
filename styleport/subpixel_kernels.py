"""Kernels of the exact inference rewrites, in numpy: the 2x2 phase kernels of styleport.subpixel's
upsampling rewrite and the space-to-depth kernels of the last conv.

Torch-free, so the torch path (``styleport.subpixel``) and the torch-free stylize engine
(``styleport.light``) derive them from one definition. Why the upsampling rewrite is exact:
styleport/subpixel.py; the space-to-depth one: ``space_to_depth_kernels``.
"""

from __future__ import annotations

import numpy as np

# Row-phase matrices (2 taps x 3 taps): phase 0 -> (W0 + W1, W2); phase 1 -> (W0, W1 + W2).
PHASE = np.array([[[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]])


def phase_kernels(weight: np.ndarray, order: str = "CRD") -> np.ndarray:
    """(O,I,3,3) conv weight -> (4*O,I,2,2) float64 phase kernels.

    ``order`` "CRD": output channel o*4 + qy*2 + qx (torch pixel_shuffle, ONNX DepthToSpace CRD);
    "DCR": (qy*2 + qx)*O + o (TensorFlow depth_to_space, ONNX DCR).
    """
    if weight.shape[-2:] != (3, 3):
        raise ValueError(f"subpixel rewrite needs a 3x3 kernel, got {tuple(weight.shape)}")
    # k[o, qy, qx, i] = P[qy] @ W[o, i] @ P[qx]^T: (2,3) @ (3,3) @ (3,2) -> (2,2)
    k = np.einsum("pta,oiab,qsb->opqits", PHASE, weight.astype(np.float64), PHASE)  # (O,2,2,I,2,2)
    if order == "DCR":
        k = k.transpose(1, 2, 0, 3, 4, 5)  # (2,2,O,I,2,2)
    elif order != "CRD":
        raise ValueError(f"order must be CRD or DCR, got {order!r}")
    o, i = weight.shape[:2]
    return k.reshape(4 * o, i, 2, 2)


def space_to_depth_kernels(weight: np.ndarray, order: str = "DCR") -> np.ndarray:
    """(O,I,K,K) stride-1 conv weight, K odd -> (4*O,4*I,K//2+1,K//2+1) float64.

    The same valid convolution on a space-to-depth view: with the (already padded) input x split into
    2x2 phases s[(r*2+s)*I + i, y, x'] = x[i, 2y+r, 2x'+s] (ONNX SpaceToDepth), output pixel
    (2y+a, 2x'+b) of channel o is channel (a*2+b)*O + o (ONNX DepthToSpace DCR) of the convolution of
    s with these kernels: tap (m, n) of phase pair (a,b) <- (r,s) is W[o, i, 2m+r-a, 2n+s-b] where that
    index lies in the kernel, else 0. Exact (same products, other summation order); it turns the
    network's last 9x9 conv (16 or 32 channels -> 3) into a 5x5 conv with 4x the channels on both sides,
    the thin-GEMM shape that ran at a tenth of the other convs' speed (docs/performance.md).
    ``order`` "CRD" instead numbers channels i*4 + r*2 + s in and o*4 + a*2 + b out (torch
    pixel_unshuffle / pixel_shuffle).
    """
    if order not in ("CRD", "DCR"):
        raise ValueError(f"order must be CRD or DCR, got {order!r}")
    o, i, k, k2 = weight.shape
    if k != k2 or k % 2 == 0:
        raise ValueError(f"space-to-depth rewrite needs a square odd kernel, got {tuple(weight.shape)}")
    taps = k // 2 + 1
    # one axis: kernel index 2m + r - a for (output phase a, input phase r, tap m), where inside the kernel
    index = 2 * np.arange(taps) + np.arange(2)[:, None] - np.arange(2)[:, None, None]  # (a, r, m)
    inside = (index >= 0) & (index < k)
    rows = np.clip(index, 0, k - 1).reshape(-1)
    w = weight.astype(np.float64)[:, :, rows][:, :, :, rows].reshape(o, i, 2, 2, taps, 2, 2, taps)
    w = w * (inside[:, :, :, None, None, None] & inside)  # (O,I,a,r,m,b,s,n), zero outside the kernel
    out = w.transpose(2, 5, 0, 3, 6, 1, 4, 7)  # -> (a, b, O, r, s, I, m, n)
    if order == "CRD":
        out = out.transpose(2, 0, 1, 5, 3, 4, 6, 7)  # (a,b,O,r,s,I,m,n) -> (O,a,b,I,r,s,m,n)
    return out.reshape(4 * o, 4 * i, taps, taps)
