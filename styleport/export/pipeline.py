"""Export one checkpoint to several (format, precision) artifacts, verifying each one.

Order of work, so that a bad request never leaves files behind:
1. ``plan``: resolve formats and precisions, check every request against its exporter's declared
   precisions/options and that the extra it needs is installed -- all before any export starts.
2. ``run``: for each request, the exporter writes into a temp path (``atomic_output``); the
   artifact is verified in its runtime against the torch reference while still at the temp path
   (``styleport.verification.engine``, on held-out photos: never the calibration photos); only a
   verified (or explicitly unverified) artifact is renamed into place, then its provenance record
   is written beside it (``styleport.verification.provenance``; the old record is removed first). A failure deletes the temp file and raises,
   naming the artifact and the numbers.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

from styleport import quiet
from styleport.checkpoints import Checkpoint
from styleport.errors import StyleportError, UsageError
from styleport.export import base
from styleport.export.base import Artifact, Exporter, ExportRequest
from styleport.export.verify import DEFAULT_SIZES, verify_artifact
from styleport.fileutil import atomic_output
from styleport.precision import Precision
from styleport.verification import provenance
from styleport.verification.engine import ArtifactResult, Status, raise_for


@dataclasses.dataclass(frozen=True)
class Job:
    exporter: Exporter
    request: ExportRequest
    out: Path


@dataclasses.dataclass(frozen=True)
class ExportResult:
    artifact: Artifact
    verification: ArtifactResult | None  # None: --no-verify

    def summary(self) -> str:
        a = self.artifact
        check = self.verification.summary() if self.verification else "not verified (--no-verify)"
        return f"{a.format:<7} {a.precision.value:<8} {a.path}  {human_size(a.size_bytes)}  {check}"


def human_size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def size_of(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


ARTIFACT_ENDINGS = (".onnx", ".ort", ".tflite", ".mlpackage", "_tfjs")


def is_artifact(path: Path) -> bool:
    """An earlier export (folder artifacts: .mlpackage, _tfjs), which a new export may replace."""
    if path.name.endswith(".mlpackage"):
        return (path / "Manifest.json").is_file()
    if path.name.endswith("_tfjs"):
        from styleport.export.tfjs import METADATA_FILE

        return (path / "model.json").is_file() and all(
            p.is_file() and (p.name in ("model.json", METADATA_FILE) or p.suffix == ".bin") for p in path.iterdir()
        )
    return False


def is_export_folder(folder: Path) -> bool:
    """A folder of earlier exports (made before the marker existed): only artifacts in it."""
    try:
        entries = [p for p in folder.iterdir() if not p.name.startswith(".")]
    except OSError:
        return False
    return bool(entries) and all(p.name.endswith((*ARTIFACT_ENDINGS, provenance.SUFFIX)) for p in entries)


def resolve_formats(spec: Sequence[str]) -> list[str]:
    """``["onnx", "tflite"]`` or ``["all"]`` -> registered format names, in registry order."""
    if any(s == "all" for s in spec):
        return base.names()
    out = []
    for name in spec:
        base.get(name)  # raises UsageError naming the choices
        if name not in out:
            out.append(name)
    return out


def plan(
    checkpoint: Checkpoint,
    formats: Sequence[str],
    out_dir: Path,
    precisions: Sequence[Precision] = (),
    shapes: tuple[tuple[int, int], ...] = (),
    calibration: tuple[Path, ...] = (),
    options: dict[str, dict[str, str]] | None = None,
) -> list[Job]:
    """Build and validate every job before any work. ``options``: {format: {key: value}}.

    ``calibration``: photos for int8 calibration and fp16 ranges (default: the bundled calibration
    set, never synthetic images).
    """
    from styleport.images import sample_photos

    options = dict(options or {})
    calibration = tuple(calibration) or sample_photos("calibration")
    everything = any(f == "all" for f in formats)
    names = resolve_formats(formats)
    unknown = sorted(set(options) - set(names))
    if unknown:
        raise UsageError(
            f"--option for {', '.join(unknown)}, which is not being exported (exporting: {', '.join(names)})"
        )
    jobs: list[Job] = []
    stem = checkpoint.path.stem
    for name in names:
        exporter = base.get(name)
        wanted = list(precisions) or [exporter.default_precision]
        if everything and precisions:
            wanted = [p for p in wanted if p in exporter.precisions]
            if not wanted:
                continue  # --to all --precision palette4: only the formats that have it
        for precision in wanted:
            request = ExportRequest(name, precision, shapes, calibration, dict(options.get(name, {})))
            exporter.validate(request)
            jobs.append(Job(exporter, request, out_dir / exporter.filename(stem, precision)))
    if not jobs:
        raise UsageError(f"no format among {', '.join(names)} supports {', '.join(p.value for p in precisions)}")
    outs = [j.out for j in jobs]
    if len(set(outs)) != len(outs):
        raise UsageError("two requests would write the same file; export them separately")
    for exporter in {type(j.exporter): j.exporter for j in jobs}.values():
        exporter.check_available()  # MissingDependencyError naming the extra, before any work
    return jobs


class ExportFailed(StyleportError):
    """Some artifacts failed (each already removed); the others were written and verified."""

    def __init__(self, failures: Sequence[tuple[Job, StyleportError]], written: int) -> None:
        parts = "; ".join(f"{j.request.format} {j.request.precision}: {e}" for j, e in failures)
        super().__init__(f"{len(failures)} of {len(failures) + written} artifacts failed: {parts}")
        self.failures = tuple(failures)


def check_disjoint(calibration: Sequence[Path], verification: Sequence[Path]) -> None:
    """Held-out verification: a photo used to calibrate may not also be used to verify."""
    shared = sorted({Path(p).resolve() for p in calibration} & {Path(p).resolve() for p in verification})
    if shared:
        names = ", ".join(p.name for p in shared[:3]) + (", ..." if len(shared) > 3 else "")
        raise UsageError(
            f"{len(shared)} photo(s) used for both calibration and verification ({names}): "
            "verification needs photos the quantizers never saw"
        )


def run(
    checkpoint: Checkpoint,
    jobs: Sequence[Job],
    verify: bool = True,
    verify_sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES,
    progress: Callable[[str], None] | None = None,
    keep_going: bool = False,
    verify_photos: Sequence[Path] = (),
) -> list[ExportResult]:
    """Export and verify each job in turn.

    ``verify_photos``: held-out photos for verification (default: the bundled verification set);
    they must not overlap any job's calibration photos (UsageError before any work).

    A failing job's file is removed and its StyleportError raised at once, or, with
    ``keep_going``, the remaining jobs still run and ``ExportFailed`` lists every failure at the
    end. ``progress`` receives "exporting <fmt> <precision> -> <path>" before each job, then its
    summary line, or "FAILED <fmt> <precision>: <error>" (keep_going only).
    """
    from styleport.images import sample_photos

    verify_photos = tuple(verify_photos) or sample_photos("verification")
    if verify:
        for job in jobs:
            check_disjoint(job.request.calibration_images, verify_photos)
    model = checkpoint.build("cpu")
    results: list[ExportResult] = []
    failures: list[tuple[Job, StyleportError]] = []
    for job in jobs:
        if progress:
            progress(f"exporting {job.request.format} {job.request.precision} -> {job.out}")
        try:
            with quiet.third_party():  # converter / runtime chatter -> the log file (styleport/quiet.py)
                results.append(export_one(model, checkpoint, job, verify, verify_sizes, verify_photos))
        except StyleportError as exc:
            if not keep_going:
                raise
            failures.append((job, exc))
            if progress:
                progress(f"FAILED {job.request.format} {job.request.precision}: {exc}")
            continue
        if progress:
            progress(results[-1].summary())
    if failures:
        raise ExportFailed(failures, len(results))
    return results


def export_one(
    model, checkpoint: Checkpoint, job: Job, verify: bool, verify_sizes, verify_photos: Sequence[Path] = ()
) -> ExportResult:
    verification = None
    record = provenance.record(checkpoint.path, job.exporter, job.request)
    with atomic_output(job.out, replaceable=is_artifact) as tmp:
        # a copy: an exporter that casts or rescales in place must not change the reference
        artifact = job.exporter.export(copy.deepcopy(model), checkpoint, tmp, job.request)
        if verify:
            # Formats with fixed input shapes (e.g. CoreML enumerated shapes) say which they accept.
            sizes = tuple(tuple(s) for s in artifact.details.get("verify_sizes", ())) or tuple(verify_sizes)
            # verify at sizes other than the export/trace size, as long as one remains
            sizes = tuple(s for s in sizes if s not in job.request.shapes) or sizes
            verification = verify_artifact(
                tmp,
                job.request.format,
                job.request.precision,
                model,
                job.exporter.runtime,
                sizes=sizes,
                photos=verify_photos,
                raise_on_failure=False,
                details={**record["options"], **artifact.details},
            )
            if verification.status == Status.FAILED:
                raise_for(job.out, verification)  # the temp artifact is deleted on the way out
        # The old record goes before the new artifact takes its place, the new one after: a kill in
        # between leaves an artifact without a record (re-exported by parity), never a wrong record.
        provenance.sidecar(job.out).unlink(missing_ok=True)
    provenance.write(job.out, record)
    final = dataclasses.replace(artifact, path=job.out, size_bytes=size_of(job.out))
    return ExportResult(final, verification)
