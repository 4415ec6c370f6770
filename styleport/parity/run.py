"""The parity engine: each (format, precision) artifact in its real runtime vs the torch reference.

1. ``plan``: resolve formats x precisions from the exporter registry and check that each has a
   tolerance row -- before any work.
2. The reference is torch fp32 on CUDA when a GPU is present (``device="auto"``), else on the
   CPU; its outputs are computed once per (photo, size, style) and shared by every artifact.
3. Per target: take the artifact from ``export_dir`` if it is already there, else export it through
   the real pipeline (``styleport.export.pipeline.export_one``, without its own verification,
   which this engine replaces); open it in the exporter's runtime; compare every case with the
   reference (styleport.metrics) against its tolerance (styleport.tolerances); time it.

Outcomes per artifact: ``passed``, ``failed`` (outside tolerance, or the export/run raised) or
``skipped`` (the runtime or exporter cannot run here, with the reason and how to enable it).
"""

from __future__ import annotations

import dataclasses
import math
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from styleport.checkpoints import Checkpoint
from styleport.errors import MissingDependencyError, StyleportError, UsageError
from styleport.export import base as exporters
from styleport.export.base import ExportRequest
from styleport.export.calibration import fit
from styleport.export.verify import style_cases, within
from styleport.images import SAMPLES_DIR
from styleport.metrics import Difference, compare, format_psnr
from styleport.parity.latency import Latency, measure
from styleport.precision import Precision
from styleport.runtimes.base import RunInfo, RuntimeUnavailable
from styleport.tolerances import Tolerance, lookup

DEFAULT_SIZES: tuple[tuple[int, int], ...] = ((256, 256), (239, 321))  # (H, W); 239x321: not multiples of 4
MAX_IMAGES = 8


@dataclasses.dataclass(frozen=True)
class ParityConfig:
    formats: tuple[str, ...] = ()  # empty: every registered exporter
    precisions: tuple[Precision, ...] = ()  # empty: every precision each format declares
    sizes: tuple[tuple[int, int], ...] = DEFAULT_SIZES  # (H, W); latency is timed at the first
    images: tuple[Path, ...] = ()  # empty: the bundled sample photos
    export_dir: Path | None = None  # reuse artifacts found here; new exports are kept here
    runs: int = 5  # timed runs per artifact (after one warm-up)
    device: str = "auto"  # auto | cpu | cuda
    options: tuple[tuple[str, str, str], ...] = ()  # (format, key, value) exporter options, as --option

    def options_for(self, fmt: str) -> dict[str, str]:
        return {key: value for f, key, value in self.options if f == fmt}


@dataclasses.dataclass(frozen=True)
class Target:
    format: str
    precision: Precision
    runtime: str
    tolerance: Tolerance


@dataclasses.dataclass(frozen=True)
class CaseResult:
    image: str  # photo file name
    size: tuple[int, int]  # (H, W)
    style: str  # "" for single-style networks
    diff: Difference | None  # None when the runtime raised
    passed: bool
    error: str = ""

    def describe(self) -> str:
        where = f"{self.size[0]}x{self.size[1]} {self.image}" + (f" {self.style}" if self.style else "")
        return f"{where}: {self.error or self.diff}"


@dataclasses.dataclass(frozen=True)
class Sample:
    """The worst case of an artifact, kept for the report's pictures: (H,W,3) float32 arrays."""

    key: str  # identifies the reference image, e.g. "colosseum_256x256"
    reference: np.ndarray
    output: np.ndarray


@dataclasses.dataclass(frozen=True)
class ArtifactResult:
    format: str
    precision: Precision
    runtime: str
    status: str  # "passed" | "failed" | "skipped"
    tolerance: Tolerance | None = None
    path: Path | None = None
    size_bytes: int | None = None
    origin: str = ""  # "exported" | "existing"
    cases: tuple[CaseResult, ...] = ()
    latency: Latency | None = None
    info: RunInfo | None = None
    label: str = ""  # what ran, in words (e.g. the CoreML interpreter on Linux)
    reason: str = ""  # why skipped / what went wrong
    sample: Sample | None = None

    @property
    def name(self) -> str:
        return f"{self.format} {self.precision.value}"

    def worst(self, field: str, pick=max) -> float:
        values = [getattr(c.diff, field) for c in self.cases if c.diff is not None]
        return pick(values) if values else float("nan")

    @property
    def max_abs(self) -> float:
        return self.worst("max_abs")

    @property
    def mean_abs(self) -> float:
        values = [c.diff.mean_abs for c in self.cases if c.diff is not None]
        return float(np.mean(values)) if values else float("nan")

    @property
    def psnr(self) -> float:
        return self.worst("psnr", min)

    @property
    def ssim(self) -> float:
        return self.worst("ssim", min)

    def failure_text(self) -> str:
        where = f" ({self.path})" if self.path else ""
        if self.reason:
            return f"{self.name}{where}: {self.reason}"
        tol = self.tolerance
        bound = f"needs PSNR >= {tol.min_psnr:g} dB" + (
            f", max abs <= {tol.max_abs:g}" if tol.max_abs is not None else ""
        )
        bad = "; ".join(c.describe() for c in self.cases if not c.passed)
        return f"{self.name}{where} in {self.runtime} ({bound}): {bad}"


@dataclasses.dataclass(frozen=True)
class Reference:
    label: str  # e.g. "torch fp32 on cpu (2 threads)"
    device: str
    latency: Latency


@dataclasses.dataclass(frozen=True)
class ParityRun:
    model: Path
    config: ParityConfig
    reference: Reference
    images: tuple[Path, ...]
    results: tuple[ArtifactResult, ...]

    @property
    def failed(self) -> tuple[ArtifactResult, ...]:
        return tuple(r for r in self.results if r.status == "failed")


class ParityFailure(StyleportError):
    """One or more artifacts do not reproduce the reference within tolerance (or could not run)."""

    def __init__(self, run: ParityRun) -> None:
        parts = [r.failure_text() for r in run.failed]
        super().__init__(f"parity FAILED for {len(parts)} of {len(run.results)} artifact(s): " + " | ".join(parts))
        self.run = run


def plan(config: ParityConfig) -> list[Target]:
    """Every (format, precision) to check, validated (and with a tolerance row) before any work."""
    names = list(config.formats) or exporters.names()
    stray = sorted({f for f, _, _ in config.options} - set(names))
    if stray:
        raise UsageError(f"--option for {', '.join(stray)}, which is not being checked (checking: {', '.join(names)})")
    targets = []
    for name in names:
        exporter = exporters.get(name)  # UsageError naming the choices
        wanted = [p for p in (config.precisions or exporter.precisions) if p in exporter.precisions]
        for precision in wanted:
            exporter.validate(ExportRequest(name, precision, config.sizes, (), config.options_for(name)))
            targets.append(Target(name, precision, exporter.runtime, lookup(name, precision)))
    if not targets:
        asked = ", ".join(p.value for p in config.precisions)
        raise UsageError(f"none of the formats {', '.join(names)} supports the precisions {asked}")
    if config.runs < 1:
        raise UsageError("--runs must be at least 1")
    if config.device not in ("auto", "cpu", "cuda"):
        raise UsageError(f"unknown device '{config.device}' (choose from: auto, cpu, cuda)")
    return targets


def reference_device(device: str) -> str:
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available to torch on this machine")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def runtime_device(runtime: str, device: str) -> str | None:
    """The device string to open ``runtime`` with for --device, or None if it has no such device."""
    if device == "auto":
        return "auto"
    if device == "cuda":
        return "cuda" if runtime in ("torch", "onnxruntime") else None
    return "cpu" if runtime in ("torch", "onnxruntime", "litert") else "auto"  # tfjs "auto" = wasm on the CPU


def describe_runtime(runtime: str, info: RunInfo | None) -> str:
    """What actually ran, in words; the CoreML interpreter on Linux is never passed off as CoreML."""
    if runtime == "coreml" and sys.platform != "darwin":
        return "numpy MIL interpreter (styleport.runtimes.mil) on Linux, not Apple's CoreML runtime"
    if info is None:
        return runtime
    parts = [info.runtime, info.provider or info.device]
    if info.threads:
        parts.append(f"{info.threads} threads")
    return " / ".join(p for p in parts if p) + (f" ({info.notes})" if info.notes else "")


def default_images() -> tuple[Path, ...]:
    from styleport.images import sample_photos

    return sample_photos()


def load_inputs(paths: Sequence[Path], sizes: Sequence[tuple[int, int]]) -> list[tuple[str, np.ndarray]]:
    """Every photo fitted (scale to cover, centre crop) to every size: [(label, (H,W,3) float32)]."""
    from styleport.images import load_image

    out = []
    loaded = [(p.stem, load_image(p).rgb) for p in paths]
    for h, w in sizes:
        for stem, img in loaded:
            out.append((f"{stem}_{h}x{w}", fit(img, h, w)))
    return out


def obtain(checkpoint: Checkpoint, model, target: Target, folder: Path, photos: tuple[Path, ...], sizes, options=None):
    """The artifact for ``target`` in ``folder``: reused if present (whatever options made it), else exported.

    -> (path, bytes, origin)
    """
    from styleport.export.pipeline import Job, export_one, size_of

    exporter = exporters.get(target.format)
    path = folder / exporter.filename(checkpoint.path.stem, target.precision)
    if path.exists():
        return path, size_of(path), "existing"
    exporter.check_available()  # MissingDependencyError -> skipped by the caller
    request = ExportRequest(target.format, target.precision, tuple(sizes), photos, dict(options or {}))
    exporter.validate(request)
    result = export_one(model, checkpoint, Job(exporter, request, path), verify=False, verify_sizes=())
    return result.artifact.path, result.artifact.size_bytes, "exported"


def check_target(
    target: Target, path: Path, inputs, styles, expected: dict, runs: int, device: str
) -> tuple[str, tuple[CaseResult, ...], Latency | None, RunInfo | None, str, Sample | None]:
    """Run every case of one artifact. -> (status, cases, latency, info, reason, worst sample)."""
    from styleport.runtimes.base import get as get_runtime

    rt = get_runtime(target.runtime)
    reason = rt.availability()
    dev = runtime_device(target.runtime, device)
    if reason is None and dev is None:
        reason = f"{target.runtime} has no '{device}' device (run with --device auto or cpu)"
    if reason is not None:
        return "skipped", (), None, None, reason, None
    try:
        session = rt.open(path, device=dev)
    except RuntimeUnavailable as exc:
        return "skipped", (), None, None, str(exc), None
    except StyleportError as exc:  # a corrupt or foreign artifact is a failure, not a crash
        return "failed", (), None, None, f"{target.runtime} cannot open it: {exc}", None
    cases, worst = [], None
    with session:
        for label, img in inputs:
            for style, sw in styles:
                want = expected[(label, style)]
                stem, size = label.rsplit("_", 1)[0], (img.shape[0], img.shape[1])
                try:
                    got = session.run(img, sw)
                except StyleportError as exc:
                    cases.append(CaseResult(stem, size, style, None, False, f"runtime error: {exc}"))
                    continue
                if got.shape != want.shape:
                    err = f"returned shape {got.shape}, expected {want.shape}"
                    cases.append(CaseResult(stem, size, style, None, False, err))
                    continue
                diff = compare(want, got)
                cases.append(CaseResult(stem, size, style, diff, within(diff, target.tolerance)))
                score = diff.psnr if not math.isnan(diff.psnr) else -math.inf
                if worst is None or score < worst[0]:
                    worst = (score, Sample(label, want, got))
        latency = None
        if cases and all(c.diff is not None for c in cases):
            label, img = inputs[0]
            sw = styles[0][1]
            latency = measure(lambda: session.run(img, sw), runs, (img.shape[0], img.shape[1]))
        info = session.info
    status = "passed" if cases and all(c.passed for c in cases) else "failed"
    return status, tuple(cases), latency, info, "", worst[1] if worst else None


def run(
    model_path: Path,
    config: ParityConfig,
    progress: Callable[[str], None] | None = None,
) -> ParityRun:
    """Check every planned artifact; never raises for an artifact that fails (see ParityRun.failed)."""
    from styleport.checkpoints import load
    from styleport.runtimes.torch import TorchRuntime

    say = progress or (lambda _msg: None)
    targets = plan(config)
    images = tuple(config.images[:MAX_IMAGES]) or default_images()
    if not images:
        raise UsageError(f"no photos to test with: {SAMPLES_DIR} is empty and --images was not given")
    checkpoint = load(model_path)
    model = checkpoint.build("cpu")
    ref_device = reference_device(config.device)
    inputs = load_inputs(images, config.sizes)
    styles = style_cases(model.num_styles)

    with TorchRuntime().session_for(model, ref_device) as ref:
        expected = {(label, style): ref.run(img, sw) for label, img in inputs for style, sw in styles}
        first, sw0 = inputs[0][1], styles[0][1]
        ref_latency = measure(lambda: ref.run(first, sw0), config.runs, (first.shape[0], first.shape[1]))
        where = ref_device
        if ref_device == "cuda":
            import torch

            where = f"cuda ({torch.cuda.get_device_name(0)})"
        elif ref.info.threads:
            where = f"cpu ({ref.info.threads} threads)"
        reference = Reference(f"torch fp32 on {where}", ref_device, ref_latency)
    say(f"reference: {reference.label}; {len(inputs)} image(s) x {len(styles)} style case(s)")

    results = []
    with tempfile.TemporaryDirectory(prefix="styleport-parity-") as tmp:
        folder = Path(config.export_dir) if config.export_dir else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for target in targets:
            say(f"{target.format} {target.precision}: ...")
            result = check_one(checkpoint, model, target, folder, images, inputs, styles, expected, config)
            if not config.export_dir and result.path is not None:
                result = dataclasses.replace(result, path=None)  # the temp folder is gone after the run
            results.append(result)
            say(f"{result.name}: {summary_line(result)}")
    return ParityRun(Path(model_path), config, reference, images, tuple(results))


def check_one(checkpoint, model, target: Target, folder, images, inputs, styles, expected, config) -> ArtifactResult:
    from styleport.runtimes.base import get as get_runtime

    common = dict(format=target.format, precision=target.precision, runtime=target.runtime, tolerance=target.tolerance)
    reason = get_runtime(target.runtime).availability()
    if reason is not None:  # nothing could check the artifact here: do not spend minutes exporting it
        return ArtifactResult(status="skipped", reason=reason, **common)
    try:
        options = config.options_for(target.format)
        path, size, origin = obtain(checkpoint, model, target, folder, images, config.sizes, options)
    except MissingDependencyError as exc:
        return ArtifactResult(status="skipped", reason=f"cannot export here: {exc}", **common)
    except StyleportError as exc:
        return ArtifactResult(status="failed", reason=f"export failed: {exc}", **common)
    status, cases, latency, info, reason, sample = check_target(
        target, path, inputs, styles, expected, config.runs, config.device
    )
    return ArtifactResult(
        status=status,
        path=path,
        size_bytes=size,
        origin=origin,
        cases=cases,
        latency=latency,
        info=info,
        label=describe_runtime(target.runtime, info),
        reason=reason,
        sample=sample,
        **common,
    )


def summary_line(r: ArtifactResult) -> str:
    if r.status == "skipped":
        return f"SKIPPED: {r.reason}"
    if not r.cases:
        return f"FAILED: {r.reason}"
    head = "ok" if r.status == "passed" else "FAILED"
    lat = f", {r.latency.median_ms:.0f} ms" if r.latency else ""
    return f"{head} PSNR {format_psnr(r.psnr)} (min), max abs {r.max_abs:.3g}{lat} [{r.label}]"
