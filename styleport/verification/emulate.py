"""Quantization-aware reference weights: the checkpoint's weights put through an artifact's *declared* scheme.

A lossy artifact (int8, uint8, palette) differs from the float reference by its own quantization
error, which is as large as a subtle fault (1% weight noise, the output conv x1.02): its float row
cannot tell a right artifact from a faulty one. What can is a second reference that makes the same
rounding the converter documents -- computed here from the checkpoint and the scheme the artifact
declares (format, precision, ONNX ``int8_scheme``), never from the artifact's stored weights (that
would accept whatever the file holds). A right artifact then sits within its compute error of the
emulated reference (fp16 or 16-bit activations, dynamic activation quantization), while a faulty
one moves by the fault's full effect. ``styleport.reference.forward`` runs the emulated weights.

Schemes, as each converter documents or implements them:

- symmetric int8 (ONNX QDQ ``WeightSymmetric``, CoreML ``linear_symmetric``, TFLite dynamic range):
  conv weights only, ``scale = max|w| / 127`` per output channel (ONNX per-tensor unless the scheme
  ends in ``-pc``; ONNX ``-skip`` keeps the first and last conv float), ``q = clip(round(w / scale),
  -127, 127)``. CoreML rounds its fp16 program's weights (and stores an fp16 scale).
- TF.js uint8 (``tensorflowjs.quantization``): every float tensor, per tensor, affine over
  [min, max] with the range nudged so that 0 is a grid point: ``scale = (max - min) / 255``.
- CoreML palettes (``palettize_weights``, mode kmeans, per tensor): scikit-learn ``KMeans`` with the
  parameters coremltools passes (``k-means++``, ``tol=1e-2``, ``n_init=1``, ``random_state=0``) on
  each conv's fp16 weights; each weight becomes its cluster centre.

Activations are not emulated: ONNX's 16-bit QDQ activations, TFLite's per-run activation
quantization and fp16 compute stay in the artifact-vs-emulation error the tolerance rows allow
(``tolerances.EMULATED``). The a8w8 ONNX variant is not emulated (its 8-bit activations dominate).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from styleport.precision import Precision

Weights = dict[str, np.ndarray]
CONV = "conv2d.weight"


def scheme_of(fmt: str, precision: Precision, details: Mapping[str, Any] | None) -> str | None:
    """The declared weight-quantization scheme of an artifact, or None when it has none to emulate."""
    details = details or {}
    if fmt in ("onnx", "ort") and precision is Precision.INT8:
        name = str(details.get("int8_scheme", ""))
        if not name or name.startswith("a8"):
            return None  # unknown scheme, or 8-bit activations (not emulated)
        return f"onnx:{name}"
    if fmt == "coreml" and precision in (Precision.INT8, Precision.PALETTE6, Precision.PALETTE4):
        return f"coreml:{precision.value}"
    if (fmt, precision) == ("tflite", Precision.INT8):
        return "tflite:int8"
    if (fmt, precision) == ("tfjs", Precision.UINT8):
        return "tfjs:uint8"
    return None


def _symmetric_int8(w: np.ndarray, per_channel: bool, dtype=np.float64) -> np.ndarray:
    """(Co,Ci,k,k) -> the same on the int8 grid, scale max|w|/127 (per output channel or per tensor)."""
    v = w.astype(dtype).astype(np.float64)
    absmax = np.abs(v).reshape(v.shape[0], -1).max(axis=1) if per_channel else np.array([np.abs(v).max()])
    scale = (absmax / 127.0).astype(dtype).astype(np.float64)  # CoreML stores the scale in its weights' dtype
    scale = np.where(scale == 0, 1.0, scale).reshape(-1, *([1] * (v.ndim - 1)))  # (Co|1,1,1,1)
    return np.clip(np.round(v / scale), -127, 127) * scale


def _affine_uint8(w: np.ndarray) -> np.ndarray:
    """Per-tensor affine uint8 with TF.js's zero nudging (0 is exactly representable when in range)."""
    v = w.astype(np.float32).astype(np.float64)
    lo, hi = float(v.min()), float(v.max())
    if lo == hi:
        return v
    scale = (hi - lo) / 255.0
    if lo <= 0 <= hi:
        lo = -np.round(-lo / scale) * scale
        hi = 255.0 * scale + lo
    q = np.round((np.clip(v, lo, hi) - lo) / scale)
    return (q * scale + lo).astype(np.float32).astype(np.float64)


def _palette(w: np.ndarray, bits: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    v = w.astype(np.float16)
    flat = v.reshape(-1, 1)
    k = min(flat.shape[0], 1 << bits)
    km = KMeans(k, init="k-means++", tol=1e-2, n_init=1, random_state=0).fit(flat)
    lut = km.cluster_centers_.astype(np.float16).astype(np.float64)  # stored as an fp16 lookup table
    return lut[km.labels_].reshape(w.shape)


def _convs(w: Weights) -> list[str]:
    return [k for k in w if k.endswith(CONV)]


def emulate(w: Weights, scheme: str) -> Weights:
    """``w`` (float64 checkpoint tensors, ``styleport.reference`` keys) with ``scheme`` applied."""
    out = dict(w)
    family, _, name = scheme.partition(":")
    if family == "onnx":
        ends = {"conv1.conv2d.weight", "deconv3.conv2d.weight"} if name.endswith("-skip") else set()
        for k in _convs(w):
            if k not in ends:
                out[k] = _symmetric_int8(w[k], per_channel="-pc" in name)
    elif scheme == "coreml:int8":
        for k in _convs(w):
            out[k] = _symmetric_int8(w[k], per_channel=True, dtype=np.float16)
    elif family == "coreml" and name.startswith("palette"):
        for k in _convs(w):
            out[k] = _palette(w[k], int(name.removeprefix("palette")))
    elif scheme == "tflite:int8":
        for k in _convs(w):
            out[k] = _symmetric_int8(w[k], per_channel=True)
    elif scheme == "tfjs:uint8":
        out = {k: _affine_uint8(v) for k, v in w.items()}
    else:
        raise ValueError(f"unknown quantization scheme '{scheme}'")
    return out
