"""The machine's GEMM peak, one definition for every bench that reports "% of peak".

    from gemm_peak import gemm_peak   # bench scripts run as ``python bench/NAME.py``: bench/ is on sys.path

``gemm_peak(dtype)``: GFLOP/s of the best of ``runs`` timed calls of torch.mm (n x n) @ (n x n) and of
a 1x1 convolution (oneDNN; a GEMM of (4096 x 1024) @ (1024 x 1024)) in ``dtype``, after a warm-up
call each, on torch's current thread count. The best of both because on some CPUs oneDNN's
convolution reaches more than torch.mm's BLAS (and the networks run convolutions). On CPUs without
native bf16 a bf16 "peak" is an emulation's speed, not a peak: callers say which dtype they used.
"""

from __future__ import annotations

import time

import torch


def gemm_peak(dtype: torch.dtype, n: int = 2048, runs: int = 5) -> float:
    """Best of torch.mm and a 1x1 convolution (oneDNN) on ``dtype``, GFLOP/s."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    x = torch.randn(1, 1024, 64, 64, dtype=dtype)  # (1,1024,64,64): 1x1 conv = GEMM (4096 x 1024) @ (1024 x 1024)
    w = torch.randn(1024, 1024, 1, 1, dtype=dtype)
    candidates = [
        (lambda: torch.mm(a, b), 2 * n**3),
        (lambda: torch.nn.functional.conv2d(x, w), 2 * 4096 * 1024 * 1024),
    ]
    best = 0.0
    with torch.inference_mode():
        for fn, flops in candidates:
            fn()
            for _ in range(runs):
                t = time.perf_counter()
                fn()
                best = max(best, flops / (time.perf_counter() - t) / 1e9)
    return best


def describe(n: int = 2048) -> str:
    """How the number was measured, for the benches' printed headers."""
    return f"best of torch.mm {n}^3 and a 1x1 conv GEMM 4096x1024x1024"
