"""Parity tolerances as data: one row per (format, precision), each with the reason for its numbers.

Compared against the PyTorch fp32 reference on 0..255 RGB output. ``min_psnr`` is in dB over the
0..255 range; ``max_abs`` bounds the largest per-pixel difference (None = not bounded, for lossy
precisions where single pixels may move while the image stays right). Export verification and the
parity suite both read this table; a pair without a row is an error, not a pass.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from styleport.errors import StyleportError
from styleport.precision import Precision


@dataclasses.dataclass(frozen=True)
class Tolerance:
    format: str
    precision: Precision
    min_psnr: float
    max_abs: float | None
    reason: str
    variant: str = ""  # "" = the format's default; else e.g. "io=tensor" (see ``variant_of``)


P = Precision
TOLERANCES: tuple[Tolerance, ...] = (
    Tolerance("torch", P.FP32, 60.0, 0.05, "same graph, same arithmetic; only op-order rounding differs"),
    # torch / ONNX / ORT: measured on random-init width-0.25 and width-1.0 nets with random norm affines and a
    # mid-grey output conv (outputs span 0..255), fixture photos, 37x53 to 256x256 (bench/onnx_formats.py).
    # Re-measure on the bundled trained network; a failing row stops an export, it is never a warning.
    Tolerance("torch", P.BF16, 40.0, None, "bf16 eager, 8-bit mantissa: measured 54.4-54.8 dB, max abs 2.7"),
    Tolerance("torch", P.FP16, 50.0, None, "fp16 eager: measured 72.6-73.0 dB, max abs 0.32"),
    Tolerance("onnx", P.FP32, 60.0, 0.05, "fp32 graph, ORT reorders sums only: measured 131 dB, max abs 3.4e-4"),
    # fp16 rows at 55 dB: 21 dB below what fp16 measured, yet a 5% change of the output conv's weights
    # (50.6 dB in fp32) fails; at 45 dB that tampering passed.
    Tolerance("onnx", P.FP16, 55.0, None, "fp16 weights, fp32 I/O (ORT CPU casts to fp32): 76.0 dB, max abs 0.2"),
    Tolerance("onnx", P.INT8, 30.0, None, "QDQ, scheme by PSNR (a16w8-skip won): 58.2 dB, max abs 3.2; a8w8 39-42 dB"),
    Tolerance("ort", P.FP32, 60.0, 0.05, "onnx fp32 graph saved by ORT: measured 131 dB, max abs 3.4e-4"),
    Tolerance("ort", P.FP16, 55.0, None, "onnx fp16 graph saved by ORT: measured 76.0 dB, max abs 0.2"),
    Tolerance("ort", P.INT8, 30.0, None, "onnx int8 graph saved by ORT: measured 58.2 dB, max abs 3.2"),
    # CoreML: run by the numpy MIL interpreter off macOS. Measured with the default RGB image I/O, whose 8-bit
    # output rounding alone costs 58.9 dB / max 0.5 (tensor I/O fp32: 138 dB, max abs 2e-4): width-1.0 random-init
    # net, 256 px photo (bench/coreml_precisions.py) and width-0.25 nets at 72x96 / 61x83 (tests/export/test_coreml.py).
    # The 8-bit floor limits sensitivity: a 5% change of the output conv (53.6 dB) fails fp32 but passes fp16.
    Tolerance("coreml", P.FP32, 55.0, 1.01, "8-bit image output over an fp32 program: 58.9 dB, max abs 0.5"),
    Tolerance("coreml", P.FP16, 52.0, None, "fp16 intermediates + 8-bit output: 58.8 dB (max 0.64); tiny 2-style 57.2"),
    Tolerance("coreml", P.INT8, 48.0, None, "int8 per-channel conv weights, fp16 compute: 56.9 dB, max abs 1.4"),
    Tolerance("coreml", P.PALETTE6, 40.0, None, "64-entry k-means palette per conv, fp16: 48.1-49.1 dB, max abs 5.6"),
    Tolerance("coreml", P.PALETTE4, 30.0, None, "16-entry k-means palette per conv, fp16: 38.3-39.1 dB, max abs 20"),
    # TF.js / TFLite: measured on a width-1.0 random-init net (random norm affines), a 256 px photo, and
    # width-0.25 nets at 37x53 / 48x40 (bench/tf_formats.py, tests/export/test_tf*.py).
    Tolerance("tflite", P.FP32, 70.0, 0.05, "fp32 graph, XNNPACK reorders sums only: measured 121 dB, max abs 0.001"),
    Tolerance("tflite", P.FP16, 50.0, 3.0, "fp16 weights, fp32 CPU compute: measured 83.5 dB, max abs 0.11"),
    Tolerance("tflite", P.INT8, 35.0, None, "dynamic-range int8 weights + per-run activations: measured 53-54 dB"),
    Tolerance("tfjs", P.FP32, 70.0, 0.05, "fp32 graph in tfjs wasm: measured 121 dB, max abs 0.001"),
    Tolerance("tfjs", P.FP16, 50.0, 3.0, "fp16-stored weights, fp32 compute: measured 83.5 dB, max abs 0.11"),
    Tolerance("tfjs", P.UINT8, 35.0, None, "per-tensor affine uint8 weights, fp32 compute: measured 58-61.5 dB"),
)


def lookup(fmt: str, precision: Precision, variant: str | None = None) -> Tolerance:
    """The row for (format, precision, variant); a variant without a row of its own gets the default row."""
    for want in dict.fromkeys((variant or "", "")):
        for row in TOLERANCES:
            if row.format == fmt and row.precision == precision and row.variant == want:
                return row
    raise StyleportError(f"no parity tolerance defined for {fmt} {precision}: add a row to styleport/tolerances.py")


def variant_of(fmt: str, precision: Precision, details: Mapping[str, Any] | None) -> str:
    """The tolerance variant of an artifact, from what its exporter recorded (``Artifact.details``,
    also stored in the file: ONNX metadata ``styleport.details``, CoreML ``styleport.io``).

    - CoreML: ``"io=tensor"`` when the image input/output are float tensors (no 8-bit rounding);
      ``""`` for the default RGB image I/O.
    - ONNX / ORT int8: ``"a8"`` when the static QDQ scheme has 8-bit activations (``int8_scheme``
      ``a8w8*``), ``""`` for 16-bit activations.
    Everything else: ``""``.
    """
    details = details or {}
    if fmt == "coreml":
        io = details.get("io") or {}
        image = io.get("image", "") if isinstance(io, Mapping) else str(io)
        return "io=tensor" if image and not str(image).startswith("RGB image") else ""
    if fmt in ("onnx", "ort") and precision is Precision.INT8:
        return "a8" if str(details.get("int8_scheme", "")).startswith("a8") else ""
    return ""
