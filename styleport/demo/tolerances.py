"""In-browser parity thresholds: the page's displayed pixels against the torch fp32 reference.

One row per (engine, precision of the shipped file), each with its reason. The browser shows 8-bit
pixels, so even a perfect engine is 0.5 away from the float reference (PSNR ~59 dB for uniform
rounding error); every row includes that.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class BrowserTolerance:
    engine: str  # styleport/data/web/js/engines.js key
    precision: str
    min_psnr: float
    max_abs: float | None
    reason: str


BROWSER_TOLERANCES: tuple[BrowserTolerance, ...] = (
    BrowserTolerance(
        "ort-wasm", "fp32", 50.0, 1.0, "fp32 graph in wasm + 8-bit canvas rounding: measured 58.9 dB, max abs 0.5"
    ),
    BrowserTolerance("ort-wasm", "fp16", 50.0, None, "fp16 weights (export row: 55 dB) + 8-bit canvas rounding"),
    BrowserTolerance("tfjs-wasm", "fp32", 50.0, 1.5, "fp32 TF graph in wasm (NHWC kernels) + 8-bit canvas rounding"),
    BrowserTolerance("tfjs-wasm", "fp16", 45.0, None, "fp16-stored weights, fp32 compute, then 8-bit rounding"),
    BrowserTolerance(
        "tfjs-wasm",
        "uint8",
        35.0,
        None,
        "per-tensor affine uint8 weights, fp32 compute, 8-bit rounding: measured 56.7-57.0 dB (random nets)",
    ),
)


def lookup(engine: str, precision: str) -> BrowserTolerance:
    for row in BROWSER_TOLERANCES:
        if row.engine == engine and row.precision == precision:
            return row
    raise KeyError(f"no browser tolerance for {engine} at {precision}: add a row to styleport/demo/tolerances.py")
