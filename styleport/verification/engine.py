"""The one verification engine: an artifact in its real runtime vs the torch fp32 reference.

``styleport export`` (each new file), ``styleport parity`` (every format x precision) and
``styleport verify`` (files that already exist) all call ``check``:

1. the runtime's ``availability()`` and ``device_for(device)``: if it cannot run here the artifact
   is SKIPPED with the reason -- never passed;
2. the artifact is opened (a file the runtime cannot load is FAILED, not a crash);
3. each input (a photo fitted to a size) x style case runs through the artifact, and through the
   reference with the *same* input quantization the artifact applies (``Session.input_bits``:
   CoreML image inputs hold uint8 pixels, so the reference gets the rounded image too);
4. every case is compared (styleport.metrics) with the tolerance row for the artifact
   (``tolerance_for``); a wrong output shape is a failed case of its own;
5. a weight-quantized artifact (int8, uint8, palette) must also match the *quantization-emulated*
   reference -- the checkpoint's weights put through the artifact's declared scheme
   (``styleport.verification.emulate``, ``emulation_for``) -- within a tight second row
   (``tolerances.EMULATED``): the float row is what users care about, the second proves it is the
   right artifact (a faulty one moves away from the emulation by the fault's full effect).

The result is an ``ArtifactResult`` with a ``Status``; ``raise_for`` turns a failure into a typed
error carrying the numbers (``ToleranceError``, ``ShapeMismatchError``).
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from styleport.errors import StyleportError, UsageError
from styleport.metrics import Difference, compare, format_psnr
from styleport.parity.latency import Latency, measure
from styleport.precision import Precision
from styleport.runtimes.base import RunInfo, RuntimeUnavailable
from styleport.tolerances import Tolerance, fp16_exact, lookup, variant_of
from styleport.verification.references import (  # noqa: F401  (re-exported: callers use engine.Reference etc.)
    Emulation,
    Reference,
    bound_text,
    emulation_for,
    quantize_input,
)


class Status(str, enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"

    def __str__(self) -> str:
        return self.value


@dataclasses.dataclass(frozen=True)
class Input:
    """One verification image: a photo fitted (scale to cover, centre crop) to one size."""

    label: str  # e.g. "eiffelTower_256x256"; identifies the reference image
    photo: str  # the photo's stem
    image: np.ndarray  # (H,W,3) float32 0..255

    @property
    def size(self) -> tuple[int, int]:
        return (self.image.shape[0], self.image.shape[1])


@dataclasses.dataclass(frozen=True)
class CaseResult:
    image: str  # photo stem
    size: tuple[int, int]  # (H, W)
    style: str  # "" for single-style networks
    diff: Difference | None  # None when the runtime raised or the shape was wrong
    passed: bool
    error: str = ""
    shape_mismatch: bool = False
    emulated: Difference | None = None  # vs the quantization-emulated reference (weight-quantized artifacts)
    float_held: bool = True  # False: only the emulated row judged this case (engine.float_held)

    def describe(self) -> str:
        where = f"{self.size[0]}x{self.size[1]} {self.image}" + (f" {self.style}" if self.style else "")
        if self.error or self.emulated is None:
            return f"{where}: {self.error or self.diff}"
        e = self.emulated
        held = "" if self.float_held else " (float row not held here)"
        return f"{where}: {self.diff}{held}; vs emulated: max abs {e.max_abs:.3g}, PSNR {format_psnr(e.psnr)}"


@dataclasses.dataclass(frozen=True)
class Sample:
    """The worst case of an artifact, kept for the report's pictures: (H,W,3) float32 arrays."""

    key: str
    reference: np.ndarray
    output: np.ndarray


@dataclasses.dataclass(frozen=True)
class ArtifactResult:
    format: str
    precision: Precision
    runtime: str
    status: Status
    tolerance: Tolerance | None = None
    path: Path | None = None
    size_bytes: int | None = None
    origin: str = ""  # "exported" | "existing" | "re-exported" | "given"
    cases: tuple[CaseResult, ...] = ()
    latency: Latency | None = None
    info: RunInfo | None = None
    label: str = ""  # what ran, in words (e.g. the CoreML interpreter on Linux)
    reason: str = ""  # why skipped / what went wrong
    sample: Sample | None = None
    input_bits: int | None = None  # 8: the artifact (and so the reference) got 8-bit-rounded input
    emulation: Emulation | None = None  # set: every case was also compared with the emulated reference

    @property
    def name(self) -> str:
        return f"{self.format} {self.precision.value}"

    @property
    def held(self) -> tuple[CaseResult, ...]:
        """The cases the float row judged (all but a dark frame the row lifts; see ``float_held``)."""
        return tuple(c for c in self.cases if c.float_held)

    def worst(self, field: str, pick=max) -> float:
        values = [getattr(c.diff, field) for c in self.held if c.diff is not None]
        return pick(values) if values else float("nan")

    @property
    def max_abs(self) -> float:
        return self.worst("max_abs")

    @property
    def mean_abs(self) -> float:
        values = [c.diff.mean_abs for c in self.held if c.diff is not None]
        return float(np.mean(values)) if values else float("nan")

    @property
    def psnr(self) -> float:
        return self.worst("psnr", min)

    @property
    def ssim(self) -> float:
        return self.worst("ssim", min)

    @property
    def min_psnr(self) -> float:  # the export API's name for the worst PSNR
        return self.psnr

    def emulated_worst(self, field: str, pick=max) -> float:
        values = [getattr(c.emulated, field) for c in self.cases if c.emulated is not None]
        return pick(values) if values else float("nan")

    @property
    def emulated_psnr(self) -> float:
        return self.emulated_worst("psnr", min)

    @property
    def emulated_max_abs(self) -> float:
        return self.emulated_worst("max_abs")

    def bound(self) -> str:
        """What the artifact must meet, in words: the float row, and the emulated row if any."""
        text = f"needs {bound_text(self.tolerance)}"
        if self.emulation is not None:
            text += f" and vs the {self.emulation.scheme} emulation {bound_text(self.emulation.tolerance)}"
        return text

    @property
    def failures(self) -> tuple[CaseResult, ...]:
        return tuple(c for c in self.cases if not c.passed)

    def failure_text(self) -> str:
        where = f" ({self.path})" if self.path else ""
        if self.reason:
            return f"{self.name}{where}: {self.reason}"
        bad = "; ".join(c.describe() for c in self.failures)
        return f"{self.name}{where} in {self.runtime} ({self.bound()}): {bad}"

    def summary(self) -> str:
        """One line: ``ok PSNR .. (min of N), max abs .. [what ran]``, ``FAILED ...`` or ``SKIPPED: reason``."""
        if self.status == Status.SKIPPED:
            return f"SKIPPED: {self.reason}"
        if not self.cases:
            return f"FAILED: {self.reason}"
        head = "ok" if self.status == Status.PASSED else "FAILED"
        lat = f", {self.latency.median_ms:.0f} ms" if self.latency else ""
        emu = ""
        if self.emulation is not None:
            emu = f"; vs emulated: PSNR {format_psnr(self.emulated_psnr)}, max abs {self.emulated_max_abs:.3g}"
        return (
            f"{head} PSNR {format_psnr(self.psnr)} (min of {len(self.held)}), max abs {self.max_abs:.3g}{emu}{lat} "
            f"[{self.label or self.runtime}]"
        )


class VerificationError(StyleportError):
    """An artifact does not reproduce the reference; ``.result`` holds every case with its numbers."""

    def __init__(self, path: Path | str, result: ArtifactResult, message: str = "") -> None:
        super().__init__(message or f"{path}: {result.name}: {result.reason or 'does not match the torch reference'}")
        self.result = result

    @property
    def verification(self) -> ArtifactResult:  # the name the export tests and callers use
        return self.result


class ToleranceError(VerificationError):
    """Outputs differ from the reference beyond the tolerance row (message: max abs and PSNR per failing case)."""

    def __init__(self, path: Path | str, result: ArtifactResult) -> None:
        cases = "; ".join(c.describe() for c in result.failures)
        message = (
            f"{path}: {result.name} does not match the torch reference in {result.runtime} ({result.bound()}): {cases}"
        )
        super().__init__(path, result, message)


class ShapeMismatchError(VerificationError):
    """The artifact returned an output of another shape than the reference's."""

    def __init__(self, path: Path | str, result: ArtifactResult) -> None:
        cases = "; ".join(c.describe() for c in result.failures if c.shape_mismatch)
        super().__init__(path, result, f"{path}: {result.name} returned the wrong output shape: {cases}")


class NothingVerified(StyleportError):
    """Every artifact was SKIPPED: nothing was checked, which is never a pass (exit status 3)."""

    exit_code = 3

    def __init__(self, results: Sequence[ArtifactResult]) -> None:
        reasons = "; ".join(sorted({f"{r.name}: {r.reason}" for r in results}))
        super().__init__(f"nothing verified: all {len(results)} artifact(s) were SKIPPED ({reasons})")
        self.results = tuple(results)


def raise_for(path: Path | str, result: ArtifactResult) -> None:
    """Raise the typed error for a FAILED result; nothing for passed or skipped ones."""
    if result.status != Status.FAILED:
        return
    if any(c.shape_mismatch for c in result.cases):
        raise ShapeMismatchError(path, result)
    if result.cases and not result.reason:
        raise ToleranceError(path, result)
    raise VerificationError(path, result)


def tolerance_for(
    fmt: str,
    precision: Precision,
    details: Mapping[str, Any] | None = None,
    state_dict: Mapping[str, Any] | None = None,
) -> Tolerance:
    """The tolerance row of one artifact. ``details`` are what is known about the artifact beyond
    format and precision (e.g. ``{"io": "image"}`` for CoreML image I/O, ``int8_scheme`` for ONNX
    int8); ``state_dict`` is the reference's weights (are they exact in fp16?). Together they pick
    the row's variant (``tolerances.variant_of``): the one place that passes them on to the table.
    A pair without a row is an error before anything runs."""
    exact = fp16_exact(state_dict) if state_dict is not None else False
    return lookup(fmt, precision, variant_of(fmt, precision, details, exact))


def judge(
    want: np.ndarray,
    got: np.ndarray,
    tolerance: Tolerance,
    emulated_want: np.ndarray | None = None,
    emulation: Emulation | None = None,
) -> tuple[Difference, Difference | None, bool]:
    """One case: (difference vs the reference, vs the emulated reference or None, passed). The rule
    every verification applies (and the fault-injection suite, ``styleport.faults``)."""
    diff = compare(want, got)
    emulated = compare(emulated_want, got) if emulated_want is not None else None
    ok = within(diff, tolerance) and (emulated is None or emulation is None or within(emulated, emulation.tolerance))
    return diff, emulated, ok


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


DARK_FRAME = "dark-frame"  # the photo name of the dark-frame case (reports show it like a photo)
_DARK_TILE = (48, 64)  # one lit pixel per tile of this size: the first norm's variance stays the same at any size


def dark_frame(h: int, w: int) -> np.ndarray:
    """A black (H,W,3) frame with one pixel at grey level 1 per 48x64 tile: a video's fade to black.

    On photos the first instance norm sees feature variances of 1e4 and more, so its epsilon (1e-5)
    is invisible there: a converter that writes 1e-3 (Keras' default) moves a photo's output less than
    fp16 compute does (docs/verification.md). On this frame the first norm's variances are ~1e-3, where
    that wrong epsilon moves the output by ~15 levels, while fp16 compute and 8-bit weights stay as
    close to the reference as on photos (black pixels need no precision; the lit ones are exact).
    """
    img = np.zeros((h, w, 3), np.float32)
    th, tw = _DARK_TILE
    rows = range(min(th // 2 - 4, h // 2), h, th)  # row 20 of every 48-row band (the middle of a smaller frame)
    cols = range(min(tw // 2 - 2, w // 2), w, tw)  # column 30 of every 64-column band
    img[np.ix_(list(rows), list(cols))] = 1.0  # (H,W,3): grey level 1 at each lattice point
    return img


def runs_on(tolerance: Tolerance, dark: bool, emulation: Emulation | None) -> bool:
    """Is a case (``dark``: the dark frame) run for this row at all? Not the dark frame of a
    ``dark_frame="none"`` row (``tolerances.Tolerance.dark_frame``), nor of an ``"emulated"`` row whose
    artifact has no emulation here (its float bound is lifted there: nothing would judge the case)."""
    if not dark or tolerance.dark_frame == "both":
        return True
    return tolerance.dark_frame == "emulated" and emulation is not None


def float_held(tolerance: Tolerance, dark: bool) -> bool:
    """Does the row's float bound judge a case? Not on the dark frame of a ``dark_frame="emulated"`` row,
    which holds only its emulated row there."""
    return not dark or tolerance.dark_frame != "emulated"


def case_tolerance(tolerance: Tolerance, dark: bool) -> Tolerance:
    """The float row one case is held to: ``tolerance``, or its float bounds lifted where the row holds only
    its emulated row (``float_held``)."""
    if float_held(tolerance, dark):
        return tolerance
    return dataclasses.replace(tolerance, min_psnr=-math.inf, max_abs=None)


def dark_inputs(sizes: Sequence[tuple[int, int]]) -> list[Input]:
    return [Input(f"{DARK_FRAME}_{h}x{w}", DARK_FRAME, dark_frame(h, w)) for h, w in sizes]


def load_inputs(photos: Sequence[Path], sizes: Sequence[tuple[int, int]], dark: bool = True) -> list[Input]:
    """Every photo fitted to every size, then (``dark``) a dark frame at each size (``dark_frame``).
    Photos are required: there is no synthetic fallback."""
    from styleport.export.calibration import fit
    from styleport.images import load_image

    if not photos:
        raise UsageError(
            "verification needs photos (none given; the bundled set is images.sample_photos('verification'))"
        )
    loaded = [(Path(p).stem, load_image(p).rgb) for p in photos]
    inputs = [Input(f"{stem}_{h}x{w}", stem, fit(img, h, w)) for h, w in sizes for stem, img in loaded]
    return inputs + (dark_inputs(sizes) if dark else [])


def skipped(fmt: str, precision: Precision, runtime: str, reason: str, **extra) -> ArtifactResult:
    return ArtifactResult(fmt, precision, runtime, Status.SKIPPED, reason=reason, **extra)


def check(
    artifact: Path,
    fmt: str,
    precision: Precision,
    runtime: str,
    reference: Reference,
    inputs: Sequence[Input],
    styles: Sequence[tuple[str, np.ndarray | None]],
    *,
    tolerance: Tolerance,
    emulation: Emulation | None = None,
    device: str = "auto",
    runs: int = 0,
    **extra,
) -> ArtifactResult:
    """Run every case of one artifact in ``runtime`` (see the module docstring). ``emulation``: the
    second condition of a weight-quantized artifact (``emulation_for``). ``runs`` > 0 also times it
    (after one warm-up). ``extra`` fills the result's bookkeeping fields (path, origin, ...)."""
    from styleport.runtimes.base import get as get_runtime

    extra = {"tolerance": tolerance, "emulation": emulation, **extra}
    rt = get_runtime(runtime)
    reason = rt.availability()
    dev = rt.device_for(device)
    if reason is None and dev is None:
        reason = f"{runtime} has no '{device}' device (run with --device auto or cpu)"
    if reason is not None:
        return skipped(fmt, precision, runtime, reason, **extra)
    try:
        session = rt.open(artifact, device=dev)
    except RuntimeUnavailable as exc:
        return skipped(fmt, precision, runtime, str(exc), **extra)
    except StyleportError as exc:  # a corrupt or foreign artifact is a failure, not a crash
        return ArtifactResult(
            fmt, precision, runtime, Status.FAILED, reason=f"{runtime} cannot open it: {exc}", **extra
        )
    if emulation is not None and emulation.requantize and session.info.device != "cpu":
        emulation = extra["emulation"] = None  # a re-quantization is exact on the CPU provider only
    inputs = [inp for inp in inputs if runs_on(tolerance, inp.photo == DARK_FRAME, emulation)]  # the row says why not
    cases, worst = [], None
    with session:
        bits = session.input_bits
        for inp in inputs:
            for style, weights in styles:
                want = reference.output(inp, style, weights, bits)
                try:
                    got = session.run(quantize_input(inp.image, bits), weights)
                except StyleportError as exc:
                    cases.append(CaseResult(inp.photo, inp.size, style, None, False, f"runtime error: {exc}"))
                    continue
                if got.shape != want.shape:
                    err = f"returned shape {got.shape} for a {inp.size[0]}x{inp.size[1]} input, expected {want.shape}"
                    cases.append(CaseResult(inp.photo, inp.size, style, None, False, err, shape_mismatch=True))
                    continue
                try:
                    emulated = reference.emulated(inp, style, weights, bits, emulation) if emulation else None
                except StyleportError as exc:  # e.g. a QDQ file whose grids fit no re-quantization of the checkpoint
                    cases.append(CaseResult(inp.photo, inp.size, style, None, False, f"emulated reference: {exc}"))
                    continue
                dark = inp.photo == DARK_FRAME
                diff, ediff, ok = judge(want, got, case_tolerance(tolerance, dark), emulated, emulation)
                held = float_held(tolerance, dark)
                cases.append(CaseResult(inp.photo, inp.size, style, diff, ok, emulated=ediff, float_held=held))
                score = diff.psnr if not math.isnan(diff.psnr) else -math.inf
                if held and (worst is None or score < worst[0]):
                    worst = (score, Sample(inp.label, want, got))
        latency = None
        if runs > 0 and cases and all(c.diff is not None for c in cases):
            first, weights = inputs[0], styles[0][1]
            image = quantize_input(first.image, bits)
            latency = measure(lambda: session.run(image, weights), runs, first.size)
        info = session.info
    status = Status.PASSED if cases and all(c.passed for c in cases) else Status.FAILED
    return ArtifactResult(
        fmt,
        precision,
        runtime,
        status,
        cases=tuple(cases),
        latency=latency,
        info=info,
        label=rt.describe(info),
        sample=worst[1] if worst else None,
        input_bits=bits,
        **extra,
    )
