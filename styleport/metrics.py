"""Image-difference metrics on 0..255 RGB arrays: max abs, mean abs, PSNR, SSIM.

All functions take two arrays of the same shape, (H,W,3) or (H,W), any float/int dtype, values on
the 0..255 scale, and compute in float64. PSNR is over the 0..255 peak (identical images give
``inf``). SSIM is Wang et al. 2004 with a 7x7 uniform window (the scikit-image default), computed
per channel with integral images and averaged, so it costs a few array passes and needs no scipy.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

PEAK = 255.0


@dataclasses.dataclass(frozen=True)
class Difference:
    max_abs: float
    mean_abs: float
    psnr: float  # dB over 0..255; inf when identical
    ssim: float

    def __str__(self) -> str:
        return f"max abs {self.max_abs:.3g}, mean abs {self.mean_abs:.3g}, PSNR {format_psnr(self.psnr)}, SSIM {self.ssim:.4f}"


def format_psnr(psnr: float) -> str:
    return "inf dB" if math.isinf(psnr) else f"{psnr:.1f} dB"


def _pair(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"cannot compare arrays of different shapes {a.shape} and {b.shape}")
    return a, b


def max_abs(a: np.ndarray, b: np.ndarray) -> float:
    a, b = _pair(a, b)
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def mean_abs(a: np.ndarray, b: np.ndarray) -> float:
    a, b = _pair(a, b)
    return float(np.mean(np.abs(a - b))) if a.size else 0.0


def psnr(a: np.ndarray, b: np.ndarray, peak: float = PEAK) -> float:
    a, b = _pair(a, b)
    if not np.all(np.isfinite(a)) or not np.all(np.isfinite(b)):
        return float("-inf")  # NaN/inf output (e.g. fp16 overflow) is the worst possible result
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0.0 else 10.0 * math.log10(peak * peak / mse)


def _box_mean(x: np.ndarray, k: int) -> np.ndarray:
    """Mean over every k x k window ('valid' positions): (H,W) -> (H-k+1, W-k+1)."""
    c = np.cumsum(np.cumsum(np.pad(x, ((1, 0), (1, 0))), axis=0), axis=1)
    return (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) / (k * k)


def ssim(a: np.ndarray, b: np.ndarray, peak: float = PEAK, window: int = 7) -> float:
    a, b = _pair(a, b)
    if not np.all(np.isfinite(a)) or not np.all(np.isfinite(b)):
        return float("nan")
    if a.ndim == 2:
        a, b = a[..., None], b[..., None]  # (H,W) -> (H,W,1)
    h, w = a.shape[:2]
    k = min(window, h, w)
    if k < 2:
        return 1.0 if np.array_equal(a, b) else 0.0
    c1, c2 = (0.01 * peak) ** 2, (0.03 * peak) ** 2
    n = k * k
    scores = []
    for ch in range(a.shape[2]):
        x, y = a[..., ch], b[..., ch]
        mx, my = _box_mean(x, k), _box_mean(y, k)
        # sample (co)variances, as scikit-image does (n / (n - 1))
        vx = (_box_mean(x * x, k) - mx * mx) * n / (n - 1)
        vy = (_box_mean(y * y, k) - my * my) * n / (n - 1)
        cov = (_box_mean(x * y, k) - mx * my) * n / (n - 1)
        s = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        scores.append(float(np.mean(s)))
    return float(np.mean(scores))


def compare(reference: np.ndarray, candidate: np.ndarray) -> Difference:
    """All four metrics of ``candidate`` against ``reference``."""
    return Difference(
        max_abs=max_abs(reference, candidate) if np.all(np.isfinite(candidate)) else float("inf"),
        mean_abs=mean_abs(reference, candidate) if np.all(np.isfinite(candidate)) else float("inf"),
        psnr=psnr(reference, candidate),
        ssim=ssim(reference, candidate),
    )
