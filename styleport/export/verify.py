"""Verify an exported artifact against the PyTorch fp32 reference, in the runtime that will run it.

For each verification size (other than the export size; at least one not a multiple of 4, which
exercises the crop of the 4*ceil(H/4) network output) and each style case, the same image goes
through the torch reference and through the artifact's registered runtime; the outputs are
compared (max abs, mean abs, PSNR, SSIM) with the tolerance row for (format, precision).

Outcomes are three, never blurred: ``ok`` (every case within tolerance), ``failed`` (raises
``ParityError`` listing every failing case with its numbers) and ``skipped`` (the runtime cannot
run here; the summary says ``SKIPPED: <reason>``, never ``ok``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from styleport.errors import StyleportError
from styleport.export.calibration import images_at
from styleport.metrics import Difference, compare, format_psnr
from styleport.model import TransformerNet
from styleport.precision import Precision
from styleport.runtimes.base import RunInfo, RuntimeUnavailable
from styleport.tolerances import Tolerance, lookup

DEFAULT_SIZES: tuple[tuple[int, int], ...] = ((72, 96), (61, 83))  # (H, W); 61x83 is not a multiple of 4


@dataclasses.dataclass(frozen=True)
class Case:
    size: tuple[int, int]  # (H, W)
    style: str  # "style 0", "mix", or "" for single-style networks
    diff: Difference
    passed: bool

    def describe(self) -> str:
        where = f"{self.size[0]}x{self.size[1]}" + (f" {self.style}" if self.style else "")
        return f"{where}: {self.diff}"


@dataclasses.dataclass(frozen=True)
class Verification:
    format: str
    precision: Precision
    status: str  # "ok" | "failed" | "skipped"
    runtime: str
    tolerance: Tolerance | None = None
    cases: tuple[Case, ...] = ()
    reason: str = ""  # why skipped
    info: RunInfo | None = None

    @property
    def min_psnr(self) -> float:
        return min((c.diff.psnr for c in self.cases), default=float("nan"))

    @property
    def max_abs(self) -> float:
        return max((c.diff.max_abs for c in self.cases), default=float("nan"))

    @property
    def failures(self) -> tuple[Case, ...]:
        return tuple(c for c in self.cases if not c.passed)

    def summary(self) -> str:
        if self.status == "skipped":
            return f"SKIPPED: {self.reason}"
        where = self.info.provider or self.info.device if self.info else self.runtime
        head = "ok" if self.status == "ok" else "FAILED"
        note = f"; {self.info.notes}" if self.info and self.info.notes else ""
        return (
            f"{head} PSNR {format_psnr(self.min_psnr)} (min of {len(self.cases)}), max abs {self.max_abs:.3g} "
            f"[{self.runtime} {where}{note}]"
        )


class ParityError(StyleportError):
    """An artifact's output differs from the torch reference beyond its tolerance."""

    def __init__(self, path: Path, verification: Verification) -> None:
        tol = verification.tolerance
        bound = f"needs PSNR >= {tol.min_psnr:g} dB" + (f", max abs <= {tol.max_abs:g}" if tol.max_abs else "")
        cases = "; ".join(c.describe() for c in verification.failures)
        super().__init__(
            f"{path}: {verification.format} {verification.precision} does not match the torch reference "
            f"in {verification.runtime} ({bound}): {cases}"
        )
        self.verification = verification


def style_cases(num_styles: int) -> list[tuple[str, np.ndarray | None]]:
    """Style weights to test: none for one style; first, last and a uniform mix otherwise."""
    if num_styles == 1:
        return [("", None)]
    eye = np.eye(num_styles, dtype=np.float32)
    mix = np.full(num_styles, 1.0 / num_styles, dtype=np.float32)
    return [("style 0", eye[0]), (f"style {num_styles - 1}", eye[-1]), ("mix", mix)]


def within(diff: Difference, tol: Tolerance) -> bool:
    if math.isnan(diff.psnr) or diff.psnr < tol.min_psnr:
        return False
    return tol.max_abs is None or diff.max_abs <= tol.max_abs


def reference_outputs(
    model: TransformerNet, images: Sequence[np.ndarray], styles: Sequence[np.ndarray | None]
) -> list[np.ndarray]:
    """Torch fp32 outputs, one per (image, style): (H,W,3) float32 each."""
    from styleport.runtimes.torch import TorchRuntime

    with TorchRuntime().session_for(model, "cpu") as ref:
        return [ref.run(img, sw) for img in images for sw in styles]


def verify_artifact(
    path: str | Path,
    fmt: str,
    precision: Precision,
    model: TransformerNet,
    runtime: str,
    sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES,
    photos: Sequence[Path] = (),
    device: str = "auto",
    raise_on_failure: bool = True,
    variant: str = "",
) -> Verification:
    """Run ``path`` in ``runtime`` and compare with ``model`` (torch fp32) at ``sizes``.

    ``photos`` (optional) are real images cropped to each size; without them, seeded synthetic
    images are used. Raises ParityError on failure unless ``raise_on_failure`` is False.
    """
    from styleport.runtimes.base import get as get_runtime

    path = Path(path)
    tolerance = lookup(fmt, precision, variant)  # a missing row is an error before anything runs
    rt = get_runtime(runtime)
    reason = rt.availability()
    if reason is not None:
        return Verification(fmt, precision, "skipped", runtime, tolerance, reason=reason)
    try:
        session = rt.open(path, device=device)
    except RuntimeUnavailable as exc:
        return Verification(fmt, precision, "skipped", runtime, tolerance, reason=str(exc))
    styles = style_cases(model.num_styles)
    images = images_at(list(photos), list(sizes), seed=1234)
    expected = iter(reference_outputs(model, images, [sw for _, sw in styles]))
    cases = []
    with session:
        for img in images:
            for label, sw in styles:
                got = session.run(img, sw)
                want = next(expected)
                if got.shape != want.shape:
                    raise StyleportError(
                        f"{path}: {fmt} {precision} returned shape {got.shape} for a {img.shape[0]}x{img.shape[1]} "
                        f"input, expected {want.shape}"
                    )
                diff = compare(want, got)
                cases.append(Case((img.shape[0], img.shape[1]), label, diff, within(diff, tolerance)))
        info = session.info
    status = "ok" if all(c.passed for c in cases) else "failed"
    result = Verification(fmt, precision, status, runtime, tolerance, tuple(cases), info=info)
    if status == "failed" and raise_on_failure:
        raise ParityError(path, result)
    return result
