"""Parity tolerances as data: one row per (format, precision), each with the reason for its numbers.

Compared against the PyTorch fp32 reference on 0..255 RGB output. ``min_psnr`` is in dB over the
0..255 range; ``max_abs`` bounds the largest per-pixel difference (None = not bounded, for lossy
precisions where single pixels may move while the image stays right). Export verification and the
parity suite both read this table; a pair without a row is an error, not a pass.
"""

from __future__ import annotations

import dataclasses

from styleport.errors import StyleportError
from styleport.precision import Precision


@dataclasses.dataclass(frozen=True)
class Tolerance:
    format: str
    precision: Precision
    min_psnr: float
    max_abs: float | None
    reason: str


P = Precision
TOLERANCES: tuple[Tolerance, ...] = (
    Tolerance("torch", P.FP32, 60.0, 0.05, "same graph, same arithmetic; only op-order rounding differs"),
)


def lookup(fmt: str, precision: Precision) -> Tolerance:
    for row in TOLERANCES:
        if row.format == fmt and row.precision == precision:
            return row
    raise StyleportError(f"no parity tolerance defined for {fmt} {precision}: add a row to styleport/tolerances.py")
