"""Latency of one callable: warm-up runs, then the median and p90 of N timed runs (milliseconds); and
the interleaved timing loop the benches share (``time_interleaved``)."""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable

import numpy as np


@dataclasses.dataclass(frozen=True)
class Latency:
    median_ms: float
    p90_ms: float
    min_ms: float
    max_ms: float
    runs: int
    size: tuple[int, int]  # (H, W) it was measured at

    def __str__(self) -> str:
        return f"{self.median_ms:.1f} ms median, {self.p90_ms:.1f} ms p90 ({self.runs} runs at {self.size[0]}x{self.size[1]})"


def measure(fn: Callable[[], object], runs: int, size: tuple[int, int], warmup: int = 1) -> Latency:
    """Call ``fn`` ``warmup`` times untimed, then ``runs`` times timed with a monotonic clock."""
    if runs < 1:
        raise ValueError("runs must be >= 1")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000.0)
    t = np.asarray(times)
    return Latency(
        median_ms=float(np.median(t)),
        p90_ms=float(np.percentile(t, 90)),
        min_ms=float(t.min()),
        max_ms=float(t.max()),
        runs=runs,
        size=size,
    )


def time_interleaved(entries, sizes, images, repeats: int, note: Callable[[], str] = lambda: "") -> None:
    """Time every entry once per size per repeat, interleaved so that machine-load drift hits all alike.

    An entry has ``run(image)``, ``psnr`` (the sizes it ran at in its quality pass: only those are
    timed) and ``times`` (size -> seconds, appended to). ``note()`` adds to each repeat's progress line.
    """
    for r in range(repeats):
        for size in sizes:
            for entry in entries:
                if size in entry.psnr:
                    start = time.perf_counter()
                    entry.run(images[size])
                    entry.times.setdefault(size, []).append(time.perf_counter() - start)
        print(f"  repeat {r + 1}/{repeats} done{note()}", file=sys.stderr, flush=True)
