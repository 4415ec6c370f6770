"""The 2x2 phase kernels of styleport.subpixel's exact upsampling rewrite, in numpy.

Torch-free, so the torch path (``styleport.subpixel.subpixel_weight``) and the torch-free stylize
engine (``styleport.light``) derive them from one definition. Why the rewrite is exact:
styleport/subpixel.py.
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
