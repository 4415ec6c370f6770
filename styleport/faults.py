"""Fault injection: prove that each tolerance row catches realistic ways an artifact can be wrong.

A tolerance row is only worth something if a wrong artifact fails it. This module defines the
faults an exported model realistically suffers and measures, per (format, precision, variant)
row, whether the row's gate catches each one:

- model faults -- the artifact computes a slightly different function: weight noise everywhere
  (0.5% and 1% of each tensor's RMS), the output conv scaled by 1.02, instance-norm eps x100,
  replicate instead of reflection padding, conv weights quantized to 4 bits and passed off as
  int8, another style's weights;
- output faults -- the artifact's output is mishandled: RGB/BGR swap, a 3x3 box blur, a constant
  image (the output's own mean colour, the best any constant can do).

A faulty artifact's output is the real artifact's output (run in its runtime) plus the fault's
effect, which the independent numpy reference (``styleport.reference``, float64) computes from
the faulted weights or options: ``clip(artifact + (ref_fault - ref), 0, 255)``. So the format's
own error and the fault's add up as they would in a faulty export, and one export per row is
enough. (tests/test_faults.py also exports faulted networks for real and checks the verdicts.)
Output faults are applied to the artifact's output itself.

A row *catches* a fault when at least one verification case falls outside it -- judged by the
engine's own rule (``styleport.verification.engine.judge``). A weight-quantized artifact (int8,
uint8, palette) has two conditions there: its float row, and a tight row against the reference
that applies the artifact's declared weight quantization to the checkpoint
(``styleport.verification.emulate``, computed by the engine's ``Reference.emulated``); failing either
is caught. Required: fp32/fp16 rows catch every fault; lossy rows (int8, uint8,
palette) every fault but the smallest noise (``Fault.lossy_exempt``) -- except a fault that changes
the output less than the format's own error does (``GAP_DB``: "inseparable"), which no row can catch
without failing right artifacts too. On great_wave's photos that is instance-norm eps x100 (max abs
0.076) for every non-fp32 row -- the dark frame (``engine.dark_frame``) catches it -- and 1% noise /
output conv x1.02 for the float rows of 8-bit activation files, whose re-quantized reference catches
them (docs/verification.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from styleport import reference
from styleport.precision import Precision
from styleport.tolerances import Tolerance

Weights = reference.Weights
LOSSY = (Precision.INT8, Precision.UINT8, Precision.PALETTE6, Precision.PALETTE4)


def _noise(fraction: float) -> Callable[[Weights, Weights | None], Weights]:
    def apply(w: Weights, other: Weights | None) -> Weights:
        rng = np.random.default_rng(1234)
        out = {}
        for k, v in sorted(w.items()):
            rms = float(np.sqrt(np.mean(v * v))) or 1.0
            out[k] = v + rng.normal(0.0, fraction * rms, v.shape)
        return out

    return apply


def _scale_output_conv(w: Weights, other: Weights | None) -> Weights:
    return {**w, "deconv3.conv2d.weight": w["deconv3.conv2d.weight"] * 1.02}


def _int4_weights(w: Weights, other: Weights | None) -> Weights:
    """Conv weights on a symmetric per-output-channel 4-bit grid (-7..7): what an int8 label hides."""
    out = dict(w)
    for k, v in w.items():
        if k.endswith("conv2d.weight"):
            scale = np.abs(v).reshape(v.shape[0], -1).max(axis=1).reshape(-1, 1, 1, 1) / 7.0  # (Co,1,1,1)
            out[k] = np.round(v / np.where(scale == 0, 1, scale)) * scale
    return out


def _other_style(w: Weights, other: Weights | None) -> Weights:
    if other is None:
        raise ValueError("the other_style fault needs the weights of another network of the same shape")
    return other


def _blur(y: np.ndarray) -> np.ndarray:
    """3x3 box blur with edge replication: (H,W,3) -> (H,W,3)."""
    p = np.pad(y, ((1, 1), (1, 1), (0, 0)), mode="edge")
    h, w = y.shape[:2]
    return sum(p[i : i + h, j : j + w] for i in range(3) for j in range(3)) / 9.0


@dataclasses.dataclass(frozen=True)
class Fault:
    name: str
    what: str
    weights: Callable[[Weights, Weights | None], Weights] | None = None  # model fault on the weights
    forward: Mapping[str, object] = dataclasses.field(default_factory=dict)  # reference.forward options
    output: Callable[[np.ndarray], np.ndarray] | None = None  # output fault on the artifact's output
    lossy_exempt: bool = False  # lossy rows need not catch it (the smallest noise)

    @property
    def is_model_fault(self) -> bool:
        return self.output is None


FAULTS: tuple[Fault, ...] = (
    Fault("noise 0.5%", "Gaussian noise, 0.5% of each tensor's RMS, on every weight", _noise(0.005), lossy_exempt=True),
    Fault("noise 1%", "Gaussian noise, 1% of each tensor's RMS, on every weight", _noise(0.01)),
    Fault("out conv x1.02", "output conv weights scaled by 1.02", _scale_output_conv),
    Fault("IN eps x100", "instance-norm epsilon 1e-3 instead of 1e-5", forward={"eps": 1e-3}),
    Fault("replicate pad", "replicate instead of reflection padding", forward={"pad_mode": "edge"}),
    Fault("RGB/BGR", "output channels in BGR order", output=lambda y: y[..., ::-1]),
    Fault("blur 3x3", "output blurred by a 3x3 box filter", output=_blur),
    Fault(
        "constant",
        "a constant image of the output's mean colour",
        output=lambda y: np.broadcast_to(y.reshape(-1, 3).mean(axis=0), y.shape),
    ),
    Fault("int4 as int8", "conv weights on a 4-bit grid (per channel) in an int8 artifact", _int4_weights),
    Fault("other style", "another style network's weights", _other_style),
)


def by_name(name: str) -> Fault:
    for fault in FAULTS:
        if fault.name == name:
            return fault
    raise KeyError(f"unknown fault '{name}' (known: {', '.join(f.name for f in FAULTS)})")


def required(fault: Fault, precision: Precision) -> bool:
    """Must a row of this precision catch the fault?"""
    return not (fault.lossy_exempt and precision in LOSSY)


@dataclasses.dataclass(frozen=True)
class Case:
    """One verification input with the independent reference and each model fault's effect."""

    image: np.ndarray  # (H,W,3) float32, 8-bit values
    style_weights: np.ndarray | None
    reference: np.ndarray  # (H,W,3) float64
    deltas: Mapping[str, np.ndarray]  # model fault name -> reference(faulted) - reference
    dark: bool = False  # the dark frame (verification.engine.dark_frame), not a photo


def cases(
    w: Weights,
    images: Sequence[np.ndarray],
    other: Weights | None = None,
    styles: Sequence[np.ndarray | None] = (None,),
    faults: Sequence[Fault] = FAULTS,
    dark_sizes: Sequence[tuple[int, int]] = (),
) -> list[Case]:
    """The reference and every model fault's effect for each (image, style), then for the dark frame at
    each of ``dark_sizes`` (as verification runs it). Images are rounded to 8 bits."""
    from styleport.verification.engine import dark_frame

    out = []
    faulted = {f.name: (f.weights(w, other) if f.weights else w, dict(f.forward)) for f in faults if f.is_model_fault}
    darks = [dark_frame(h, wd) for h, wd in dark_sizes]
    for i, img in enumerate([*images, *darks]):
        img = np.round(np.clip(img, 0, 255)).astype(np.float32)  # photos are 8-bit; so is CoreML's image input
        for sw in styles:
            ref = reference.forward(w, img, sw)
            deltas = {name: reference.forward(fw, img, sw, **kw) - ref for name, (fw, kw) in faulted.items()}
            out.append(Case(img, sw, ref, deltas, dark=i >= len(images)))
    return out


def inject(fault: Fault, case: Case, artifact_output: np.ndarray) -> np.ndarray:
    """What the faulty artifact would return for ``case``: (H,W,3) float64 0..255."""
    y = np.asarray(artifact_output, np.float64)
    if fault.output is not None:
        return np.asarray(fault.output(y), np.float64)
    return np.clip(y + case.deltas[fault.name], 0.0, 255.0)


# A row can only separate a fault from the right artifact if there is room between them for a bound
# with headroom on both sides: the right artifact's worst PSNR moves ~1.5 dB across styles, photos and
# sizes (palette6 48.5-50.1 dB over the bundled styles), and a fault must fall clearly outside. A fault
# whose worst PSNR is within GAP_DB of the right artifact's AND whose max abs is within MAX_ABS_RATIO of
# it is a smaller change than the format's own error: no tolerance row can catch it (it is "inseparable").
GAP_DB = 3.0
MAX_ABS_RATIO = 2.0

# Separable faults that a row still misses, because right artifacts of other networks, schemes, photos
# or sizes measured lower than this fault does on great_wave, and a row must pass those. Listed here,
# shown in docs/verification.md as "known miss", asserted by tests (a new miss fails them).
# None since 2026-12-03: TFLite dynamic-range int8, whose per-run activation quantization a numpy emulation
# reproduces only to 43-48 dB, had three (1% noise, x1.02, norm eps x100); its reference is now the checkpoint
# converted again (verification.references.Emulation.reconvert), which the right file matches bit for bit.
KNOWN_MISSES: Mapping[tuple[str, Precision], Mapping[str, str]] = {}


@dataclasses.dataclass(frozen=True)
class Cell:
    """The gate's view of one (row, fault): worst case over the verification cases."""

    psnr: float  # min over cases
    max_abs: float  # max over cases
    caught: bool  # at least one case outside the row (or, when emulated, outside the emulated row)
    required: bool
    inseparable: bool = False  # as close to the reference as the right artifact (see GAP_DB)
    known: str = ""  # a listed miss (KNOWN_MISSES): why no row can catch it on every network
    emulated_psnr: float | None = None  # vs the quantization-emulated reference (None: not emulated)
    emulated_max_abs: float | None = None

    @property
    def ok(self) -> bool:
        return self.caught or not self.required or self.inseparable or bool(self.known)


def outside(tol: Tolerance, p: float, m: float) -> bool:
    return not (p >= tol.min_psnr and (tol.max_abs is None or m <= tol.max_abs))


def judge(
    tol: Tolerance,
    pairs: Sequence[tuple[np.ndarray, np.ndarray]],
    must: bool,
    emulation=None,
    emulated: Sequence[np.ndarray] | None = None,
    darks: Sequence[bool] | None = None,
) -> Cell:
    """Compare (reference, output) pairs against ``tol`` (and each output against its ``emulated``
    reference under ``emulation``), with the rule verification applies (``engine.judge``, and
    ``engine.case_tolerance`` for the pairs that ``darks`` marks as the dark frame)."""
    from styleport.verification.engine import case_tolerance, float_held
    from styleport.verification.engine import judge as judge_case

    emulated = emulated if emulation is not None and emulated is not None else [None] * len(pairs)
    darks = darks if darks is not None else [False] * len(pairs)
    results = [
        judge_case(ref, got, case_tolerance(tol, dark), e, emulation)
        for (ref, got), e, dark in zip(pairs, emulated, darks, strict=True)
    ]
    caught = not all(ok for _, _, ok in results)
    held = [d for (d, _, _), dark in zip(results, darks, strict=True) if float_held(tol, dark)]
    cell = Cell(min(d.psnr for d in held), max(d.max_abs for d in held), caught, must)
    if emulation is not None and emulated[0] is not None:
        cell = dataclasses.replace(
            cell,
            emulated_psnr=min(e.psnr for _, e, _ in results),
            emulated_max_abs=max(e.max_abs for _, e, _ in results),
        )
    return cell


def catch_row(
    tol: Tolerance,
    precision: Precision,
    measured: Sequence[Case],
    outputs: Sequence[np.ndarray],
    faults: Sequence[Fault] = FAULTS,
    emulation=None,
    emulated: Sequence[np.ndarray] | None = None,
) -> dict[str, Cell]:
    """{"right": the unfaulted artifact (must pass), fault name: Cell} for one row. ``emulation`` and
    ``emulated`` (one emulated reference per case): the artifact's second condition, if it has one."""
    darks = [c.dark for c in measured]
    right = judge(
        tol, [(c.reference, o) for c, o in zip(measured, outputs, strict=True)], False, emulation, emulated, darks
    )
    row = {"right": right}
    for fault in faults:
        pairs = [(c.reference, inject(fault, c, o)) for c, o in zip(measured, outputs, strict=True)]
        cell = judge(tol, pairs, required(fault, precision), emulation, emulated, darks)
        close = _close(cell.psnr, cell.max_abs, right.psnr, right.max_abs)
        if cell.emulated_psnr is not None:  # inseparable only if it hides under both conditions
            close = close and _close(
                cell.emulated_psnr, cell.emulated_max_abs, right.emulated_psnr, right.emulated_max_abs
            )
        known = KNOWN_MISSES.get((tol.format, precision), {}).get(fault.name, "")
        row[fault.name] = dataclasses.replace(cell, inseparable=close, known="" if cell.caught else known)
    return row


def _close(p: float, m: float, right_p: float, right_m: float) -> bool:
    return p > right_p - GAP_DB and m < MAX_ABS_RATIO * right_m


def problems(tol: Tolerance, precision: Precision, row: Mapping[str, Cell]) -> list[str]:
    """Why a row does not do its job: the right artifact fails it, or a required fault passes it."""
    out = []
    right = row["right"]
    if right.caught:
        out.append(f"the right artifact fails ({right.psnr:.1f} dB, max abs {right.max_abs:.3g})")
    for name, cell in row.items():
        if name != "right" and not cell.ok:
            out.append(f"misses '{name}' ({cell.psnr:.1f} dB, max abs {cell.max_abs:.3g})")
    return out


@dataclasses.dataclass(frozen=True)
class Row:
    """One artifact kind to prove: format x precision x variant (exporter options that pick a row)."""

    format: str
    precision: Precision
    options: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @property
    def label(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in sorted(self.options.items()))
        return f"{self.format} {self.precision.value}" + (f" ({extra})" if extra else "")


def every_row(formats: Sequence[str] = ()) -> list[Row]:
    """Every registered format x precision, plus CoreML with tensor I/O (its rows differ from image I/O)."""
    from styleport.export import base as exporters

    rows = []
    for name in formats or exporters.names():
        for p in exporters.get(name).precisions:
            rows.append(Row(name, p))
            if name == "coreml":
                rows.append(Row(name, p, {"io": "tensor"}))
            if name in ("onnx", "ort") and p is Precision.INT8:
                # 8-bit activations: their own row, shown with the fast scheme (bench/int8_speed.py). Per-tensor
                # a8w8 fails that row on the stroke-weighted great_wave of 2026-12-03 (32.1 dB at 48x64): its
                # verification says FAILED, and per-channel weights are what keep the strokes.
                rows.append(Row(name, p, {"int8_scheme": "a8w8-pc-enc"}))
    return rows


@dataclasses.dataclass(frozen=True)
class RowResult:
    row: Row
    tolerance: Tolerance
    variant: str
    cells: Mapping[str, Cell]
    runtime: str
    emulation: object = None  # engine.Emulation: the second condition, when the artifact has one

    @property
    def problems(self) -> list[str]:
        return problems(self.tolerance, self.row.precision, self.cells)


def measure(
    model,
    checkpoint,
    rows: Sequence[Row],
    measured: Sequence[Case],
    folder,
    calibration: Sequence = (),
    faults: Sequence[Fault] = FAULTS,
    progress: Callable[[str], None] | None = None,
) -> list[RowResult]:
    """Export each row (no verification), run it in its runtime on every case, judge every fault."""
    from pathlib import Path

    from styleport.export import base as exporters
    from styleport.export.base import ExportRequest
    from styleport.export.pipeline import Job, export_one
    from styleport.runtimes import base as runtimes
    from styleport.tolerances import fp16_exact, lookup, variant_of
    from styleport.verification.engine import Input, Reference, emulation_for, runs_on

    exact = fp16_exact(checkpoint.state_dict)
    sizes = tuple(dict.fromkeys(c.image.shape[:2] for c in measured))
    results = []
    for row in rows:
        exporter = exporters.get(row.format)
        request = ExportRequest(row.format, row.precision, sizes, tuple(calibration), dict(row.options))
        tag = "_".join(f"{v}" for v in row.options.values())
        out = Path(folder) / exporter.filename(f"{checkpoint.path.stem}{'_' + tag if tag else ''}", row.precision)
        if progress:
            progress(f"{row.label}: exporting")
        artifact = export_one(model, checkpoint, Job(exporter, request, out), verify=False, verify_sizes=()).artifact
        variant = variant_of(row.format, row.precision, artifact.details, exact)
        tol = lookup(row.format, row.precision, variant)
        emulation = emulation_for(row.format, row.precision, artifact.details, artifact.path)
        held = [c for c in measured if runs_on(tol, c.dark, emulation)]  # as engine.check
        with runtimes.get(exporter.runtime).open(artifact.path) as session:
            outputs = [session.run(c.image, c.style_weights) for c in held]
        emulated = None
        if emulation is not None:  # the engine's own emulated reference (the gate's code path)
            with Reference(model) as ref:
                emulated = [
                    ref.emulated(Input(f"case{i}", "case", c.image), "", c.style_weights, None, emulation)
                    for i, c in enumerate(held)
                ]
        cells = catch_row(tol, row.precision, held, outputs, faults, emulation, emulated)
        results.append(RowResult(row, tol, variant, cells, exporter.runtime, emulation))
        if progress:
            right = cells["right"]
            progress(
                f"{row.label} [{variant or 'default'}]: right {right.psnr:.1f} dB / {right.max_abs:.3g}"
                + (f" (emulated {right.emulated_psnr:.1f} / {right.emulated_max_abs:.3g})" if emulation else "")
                + "; "
                + "; ".join(
                    f"{n} {c.psnr:.1f}"
                    + (f" (emu {c.emulated_psnr:.1f})" if emulation else "")
                    + ("" if c.ok else " MISSED")
                    for n, c in cells.items()
                    if n != "right"
                )
            )
    return results
