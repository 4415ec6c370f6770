"""``styleport.verify``: check files that already exist against the reference model.

    run = styleport.verify("model.pth", ["app/Style.mlpackage", "model_int8.onnx"])
    run.passed, [r.summary() for r in run.results]

Every artifact is inspected (format, precision, inputs, layout: ``inspect.py``) and checked
against the model before anything runs, so a bad file is one clear error and nothing is written.
Then each is run by the verification engine in its registered runtime on held-out photos at
``sizes`` (for CoreML files with enumerated sizes: the requested sizes it accepts, else its two
smallest), with the same report types as ``styleport parity``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from styleport.errors import MissingDependencyError, StyleportError
from styleport.precision import Precision
from styleport.verification import engine, provenance
from styleport.verification.inspect import ArtifactError, ArtifactInfo, check_against, identify, inspect

DEFAULT_SIZES: tuple[tuple[int, int], ...] = ((256, 256), (239, 321))  # as `styleport parity`


class VerifyFailure(StyleportError):
    """One or more artifacts do not reproduce the reference model (exit status 1)."""

    def __init__(self, run) -> None:
        parts = [r.failure_text() for r in run.failed]
        super().__init__(f"verify FAILED for {len(parts)} of {len(run.results)} artifact(s): " + " | ".join(parts))
        self.run = run


@dataclasses.dataclass(frozen=True)
class Planned:
    path: Path
    info: ArtifactInfo | None  # None: the package needed to read it is missing (-> SKIPPED)
    format: str
    precision: Precision
    skip_reason: str = ""


def _precision_from_name(path: Path) -> Precision | None:
    """styleport's file naming, ``<stem>_<precision><suffix>``, for a file it cannot open here."""
    m = re.search(r"_([a-z0-9]+)(?:_tfjs)?$", path.name.removesuffix(path.suffix) if path.suffix else path.name)
    try:
        return Precision.parse(m.group(1)) if m else None
    except StyleportError:
        return None


def plan(num_styles: int, artifacts: Sequence[str | Path], precision: Precision | None = None) -> list[Planned]:
    """Inspect every artifact and check it fits the model -- all before any work."""
    from styleport.export import base as exporters

    if not artifacts:
        raise ArtifactError("verify needs at least one artifact")
    planned = []
    for raw in artifacts:
        path = Path(raw)
        fmt = identify(path)
        try:
            info = inspect(path, precision)
        except MissingDependencyError as exc:
            guessed = precision or _precision_from_name(path)
            if guessed is None:
                raise ArtifactError(f"{path}: cannot read it here ({exc}); pass --precision to report it") from None
            planned.append(Planned(path, None, fmt, guessed, f"cannot read it here: {exc}"))
            continue
        check_against(info, num_styles)
        if info.precision not in exporters.get(fmt).precisions:
            raise ArtifactError(f"{path}: {fmt} has no precision {info.precision} (from {info.precision_from})")
        engine.tolerance_for(fmt, info.precision, info.details)  # a missing row is an error now
        planned.append(Planned(path, info, fmt, info.precision))
    return planned


def sizes_for(info: ArtifactInfo | None, sizes: Sequence[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """The requested sizes the artifact accepts; for fixed enumerated sizes, else its two smallest."""
    if info is None or not info.sizes:
        return tuple(sizes)
    accepted = tuple(s for s in sizes if s in info.sizes)
    return accepted or tuple(sorted(info.sizes, key=lambda s: s[0] * s[1])[:2])


def verify(
    model: str | Path,
    artifacts: Sequence[str | Path],
    *,
    precision: str | Precision | None = None,
    sizes: Sequence[tuple[int, int]] = DEFAULT_SIZES,
    photos: Sequence[Path] = (),
    device: str = "auto",
    runs: int = 3,
    raise_on_failure: bool = True,
    progress: Callable[[str], None] | None = None,
):
    """Verify existing artifacts against checkpoint ``model``; returns a ``styleport.parity.run.ParityRun``.

    ``precision`` overrides what the files say; ``photos`` are verification photos (default: the
    bundled held-out set; never synthetic images). With ``raise_on_failure`` (default) a failure
    raises ``VerifyFailure`` and a run where everything was SKIPPED raises ``NothingVerified``.
    """
    from styleport.checkpoints import load
    from styleport.export import base as exporters
    from styleport.images import sample_photos
    from styleport.parity.run import ParityConfig, ParityRun, Reference, reference_device

    say = progress or (lambda _msg: None)
    if isinstance(precision, str):
        precision = Precision.parse(precision)
    checkpoint = load(model)
    planned = plan(checkpoint.config.num_styles, artifacts, precision)
    photos = tuple(photos) or sample_photos("verification")
    model_sha = provenance.file_sha256(Path(model))
    for item in planned:
        recorded = (item.info.provenance or {}).get("checkpoint_sha256") if item.info else None
        if recorded and recorded != model_sha:
            say(f"{item.path}: note: its provenance record says it was exported from another checkpoint")
    net = checkpoint.build("cpu")
    ref_device = reference_device(device)
    styles = engine.style_cases(net.num_styles)
    config = ParityConfig(sizes=tuple(sizes), images=photos, runs=runs, device=device)
    results = []
    with engine.Reference(net, ref_device) as ref:
        first = engine.load_inputs(photos[:1], [tuple(sizes[0])])[0]
        reference = Reference(ref.label, ref_device, ref.latency(first, styles[0][1], max(runs, 1)))
        say(f"reference: {reference.label}")
        for item in planned:
            runtime = exporters.get(item.format).runtime
            common = dict(path=item.path, origin="given", size_bytes=_size(item.path))
            if item.info is None:
                results.append(engine.skipped(item.format, item.precision, runtime, item.skip_reason, **common))
            else:
                tolerance = engine.tolerance_for(item.format, item.precision, item.info.details, net.state_dict())
                inputs = engine.load_inputs(photos, sizes_for(item.info, sizes))
                result = engine.check(
                    item.path, item.format, item.precision, runtime, ref, inputs, styles,
                    tolerance=tolerance, emulation=engine.emulation_for(
                        item.format, item.precision, item.info.details, item.path
                    ),
                    device=device, runs=runs, **common,
                )  # fmt: skip
                results.append(result)
            say(f"{item.path}: {results[-1].summary()}")
    run = ParityRun(Path(model), config, reference, photos, tuple(results))
    if raise_on_failure:
        if run.failed:
            raise VerifyFailure(run)
        if not run.verified:
            raise engine.NothingVerified(run.results)
    return run


def _size(path: Path) -> int:
    from styleport.export.pipeline import size_of

    return size_of(path)
