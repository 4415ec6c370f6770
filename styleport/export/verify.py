"""Export-time verification: one new artifact in its runtime vs the torch fp32 reference.

A thin front for ``styleport.verification.engine`` (the engine shared with ``styleport parity``
and ``styleport verify``): each verification size (other than the export size; at least one not a
multiple of 4, which exercises the crop of the 4*ceil(H/4) network output) gets one held-out
photo (cycled), and each style case runs through the artifact's registered runtime and the
reference. Outcomes: ``Status.PASSED``, ``Status.FAILED`` (raises ``ToleranceError`` /
``ShapeMismatchError`` with every failing case's numbers) or ``Status.SKIPPED`` (the runtime
cannot run here; ``summary()`` says ``SKIPPED: <reason>``, never ``ok``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from styleport.model import TransformerNet
from styleport.precision import Precision
from styleport.verification.engine import (
    ArtifactResult,
    Input,
    Reference,
    ToleranceError,
    check,
    dark_inputs,
    emulation_for,
    load_inputs,
    raise_for,
    style_cases,
    tolerance_for,
)

DEFAULT_SIZES: tuple[tuple[int, int], ...] = ((72, 96), (61, 83))  # (H, W); 61x83 is not a multiple of 4

# Names kept for callers of the export API: a verification result is the engine's ArtifactResult,
# and a tolerance failure its ToleranceError.
Verification = ArtifactResult
ParityError = ToleranceError

__all__ = ["DEFAULT_SIZES", "ParityError", "Verification", "reference_outputs", "style_cases", "verify_artifact"]


def reference_outputs(
    model: TransformerNet, images: Sequence[np.ndarray], styles: Sequence[np.ndarray | None]
) -> list[np.ndarray]:
    """Torch fp32 outputs, one per (image, style): (H,W,3) float32 each."""
    from styleport.runtimes.torch import TorchRuntime

    with TorchRuntime().session_for(model, "cpu") as ref:
        return [ref.run(img, sw) for img in images for sw in styles]


def cycled_inputs(photos: Sequence[Path], sizes: Sequence[tuple[int, int]]) -> list[Input]:
    """One input per size, the photos taken in turn (export checks stay quick), and the dark frame at the first size."""
    cycled = [load_inputs([photos[i % len(photos)]], [size], dark=False)[0] for i, size in enumerate(sizes)]
    return cycled + dark_inputs(sizes[:1])


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
    details: Mapping[str, Any] | None = None,
) -> ArtifactResult:
    """Run ``path`` in ``runtime`` and compare with ``model`` (torch fp32) at ``sizes``.

    ``photos``: verification photos (default: the bundled held-out set,
    ``images.sample_photos("verification")``; never synthetic images). ``details``: what is known
    about the artifact beyond format and precision (exporter options such as CoreML's ``io``), for
    the tolerance row. Raises the engine's typed error on failure unless ``raise_on_failure`` is False.
    """
    from styleport.images import sample_photos

    path = Path(path)
    tolerance = tolerance_for(
        fmt, precision, details, model.state_dict()
    )  # a missing row is an error before anything runs
    inputs = cycled_inputs(tuple(photos) or sample_photos("verification"), sizes)
    with Reference(model, "cpu") as reference:
        result = check(
            path, fmt, precision, runtime, reference, inputs, style_cases(model.num_styles),
            tolerance=tolerance, emulation=emulation_for(fmt, precision, details, path), device=device, path=path,
        )  # fmt: skip
    if raise_on_failure:
        raise_for(path, result)
    return result
