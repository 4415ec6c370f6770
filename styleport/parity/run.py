"""The parity suite: every (format, precision) exported and checked by the verification engine.

1. ``plan``: resolve formats x precisions from the exporter registry and check that each has a
   tolerance row -- before any work.
2. The reference is torch fp32 on CUDA when a GPU is present (``device="auto"``), else on the
   CPU; its outputs are computed once per (photo, size, style, input quantization) and shared.
3. Per target: reuse the artifact in ``export_dir`` only if its provenance record matches what
   would be exported now (checkpoint hash, options, calibration photos, styleport version and
   exporter code), else export it through the real pipeline (``export_one``, without its own
   verification); then ``styleport.verification.engine.check`` runs and times it.

Calibration photos and verification photos are disjoint (held-out numbers). Outcomes per artifact
are the engine's ``Status``: passed, failed (outside tolerance, or the export/run raised) or
skipped (the runtime or exporter cannot run here, with the reason). A run where nothing could be
verified is not a pass (``ParityRun.verified``).
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from pathlib import Path

from styleport.checkpoints import Checkpoint
from styleport.errors import MissingDependencyError, StyleportError, UsageError
from styleport.export import base as exporters
from styleport.export.base import ExportRequest
from styleport.parity.latency import Latency
from styleport.precision import Precision
from styleport.tolerances import Tolerance
from styleport.verification import engine, provenance
from styleport.verification.engine import ArtifactResult, CaseResult, NothingVerified, Sample, Status, style_cases

__all__ = [
    "ArtifactResult",
    "CaseResult",
    "NothingVerified",
    "ParityConfig",
    "ParityRun",
    "Reference",
    "Sample",
    "Status",
    "run",
]

DEFAULT_SIZES: tuple[tuple[int, int], ...] = ((256, 256), (239, 321))  # (H, W); 239x321: not multiples of 4
MAX_IMAGES = 8


@dataclasses.dataclass(frozen=True)
class ParityConfig:
    formats: tuple[str, ...] = ()  # empty: every registered exporter
    precisions: tuple[Precision, ...] = ()  # empty: every precision each format declares
    sizes: tuple[tuple[int, int], ...] = DEFAULT_SIZES  # (H, W); latency is timed at the first
    images: tuple[Path, ...] = ()  # verification photos; empty: the bundled verification set
    calibration: tuple[Path, ...] = ()  # calibration photos for new exports; empty: the bundled calibration set
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
        return tuple(r for r in self.results if r.status == Status.FAILED)

    @property
    def verified(self) -> bool:
        """At least one artifact was actually checked (everything SKIPPED is not a pass)."""
        return any(r.status != Status.SKIPPED for r in self.results)

    @property
    def passed(self) -> bool:
        return self.verified and not self.failed


class ParityFailure(StyleportError):
    """One or more artifacts do not reproduce the reference within tolerance (or could not run)."""

    def __init__(self, run: ParityRun) -> None:
        parts = [r.failure_text() for r in run.failed]
        super().__init__(f"parity FAILED for {len(parts)} of {len(run.results)} artifact(s): " + " | ".join(parts))
        self.run = run


def plan(config: ParityConfig) -> list[Target]:
    """Every (format, precision) to check, validated (and with a tolerance row) before any work."""
    from styleport.export.pipeline import check_disjoint
    from styleport.images import sample_photos

    check_disjoint(
        tuple(config.calibration) or sample_photos("calibration"),
        tuple(config.images[:MAX_IMAGES]) or sample_photos("verification"),
    )  # held-out: calibration and verification photos never overlap
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
            details = provenance.effective_options(exporter, config.options_for(name))
            targets.append(Target(name, precision, exporter.runtime, engine.tolerance_for(name, precision, details)))
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


def obtain(checkpoint: Checkpoint, model, target: Target, folder: Path, calibration=(), sizes=(), options=None):
    """The artifact for ``target`` in ``folder``: reused only if its provenance matches, else (re-)exported.

    -> (path, bytes, origin); origin is "existing", "exported" or "re-exported (<why>)".
    """
    from styleport.export.pipeline import Job, export_one, size_of
    from styleport.images import sample_photos

    exporter = exporters.get(target.format)
    path = folder / exporter.filename(checkpoint.path.stem, target.precision)
    calibration = tuple(calibration) or sample_photos("calibration")
    request = ExportRequest(target.format, target.precision, tuple(sizes), calibration, dict(options or {}))
    exporter.validate(request)
    origin = "exported"
    if path.exists():
        why = provenance.mismatch(provenance.read(path), provenance.record(checkpoint.path, exporter, request))
        if not why:
            return path, size_of(path), "existing"
        origin = f"re-exported ({why})"
    exporter.check_available()  # MissingDependencyError -> skipped by the caller
    result = export_one(model, checkpoint, Job(exporter, request, path), verify=False, verify_sizes=())
    return result.artifact.path, result.artifact.size_bytes, origin


def run(
    model_path: Path,
    config: ParityConfig,
    progress: Callable[[str], None] | None = None,
) -> ParityRun:
    """Check every planned artifact; never raises for an artifact that fails (see ParityRun.failed)."""
    from styleport.checkpoints import load
    from styleport.images import sample_photos

    say = progress or (lambda _msg: None)
    targets = plan(config)
    images = tuple(config.images[:MAX_IMAGES]) or sample_photos("verification")
    calibration = tuple(config.calibration) or sample_photos("calibration")
    checkpoint = load(model_path)
    model = checkpoint.build("cpu")
    ref_device = reference_device(config.device)
    inputs = engine.load_inputs(images, config.sizes)
    styles = style_cases(model.num_styles)

    results = []
    with engine.Reference(model, ref_device) as ref:
        latency = ref.latency(inputs[0], styles[0][1], config.runs)
        reference = Reference(ref.label, ref_device, latency)
        say(f"reference: {reference.label}; {len(inputs)} image(s) x {len(styles)} style case(s)")
        with tempfile.TemporaryDirectory(prefix="styleport-parity-") as tmp:
            folder = Path(config.export_dir) if config.export_dir else Path(tmp)
            folder.mkdir(parents=True, exist_ok=True)
            for target in targets:
                say(f"{target.format} {target.precision}: ...")
                result = check_one(checkpoint, model, target, folder, calibration, inputs, styles, ref, config)
                if not config.export_dir and result.path is not None:
                    result = dataclasses.replace(result, path=None)  # the temp folder is gone after the run
                if result.origin.startswith("re-exported"):
                    say(f"{result.name}: {result.origin}")
                results.append(result)
                say(f"{result.name}: {summary_line(result)}")
    return ParityRun(Path(model_path), config, reference, images, tuple(results))


def check_one(checkpoint, model, target: Target, folder, calibration, inputs, styles, ref, config) -> ArtifactResult:
    from styleport.runtimes.base import get as get_runtime

    common = dict(tolerance=target.tolerance)
    reason = get_runtime(target.runtime).availability()
    if reason is not None:  # nothing could check the artifact here: do not spend minutes exporting it
        return engine.skipped(target.format, target.precision, target.runtime, reason, **common)
    options = config.options_for(target.format)
    try:
        path, size, origin = obtain(checkpoint, model, target, folder, calibration, config.sizes, options)
    except MissingDependencyError as exc:
        return engine.skipped(target.format, target.precision, target.runtime, f"cannot export here: {exc}", **common)
    except StyleportError as exc:
        return ArtifactResult(
            target.format, target.precision, target.runtime, Status.FAILED, reason=f"export failed: {exc}", **common
        )
    # The row's variant can depend on what the export chose (e.g. the int8 scheme): read it from the file.
    details = {**options_details(target, options), **file_details(path)}
    common["tolerance"] = engine.tolerance_for(target.format, target.precision, details, model.state_dict())
    common["emulation"] = engine.emulation_for(target.format, target.precision, details, path)
    return engine.check(
        path, target.format, target.precision, target.runtime, ref, inputs, styles,
        device=config.device, runs=config.runs, path=path, size_bytes=size, origin=origin, **common,
    )  # fmt: skip


def options_details(target: Target, options) -> dict:
    return dict(provenance.effective_options(exporters.get(target.format), options))


def file_details(path: Path) -> dict:
    """What the artifact file records about itself (CoreML io, ONNX int8 scheme); {} if unreadable."""
    from styleport.verification.inspect import inspect

    try:
        return dict(inspect(path).details)
    except StyleportError:
        return {}


def summary_line(r: ArtifactResult) -> str:
    return r.summary()
