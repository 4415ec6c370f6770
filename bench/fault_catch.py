"""Which tolerance row catches which fault: the catch table behind docs/verification.md.

For every format x precision (x variant) the network is exported, run in its real runtime on
photos, and compared with the independent numpy reference (``styleport.reference``); then each
fault of ``styleport.faults.FAULTS`` is injected and judged by the row, as verification would.

    python bench/fault_catch.py                         # great_wave, every row -> docs/verification.md
    python bench/fault_catch.py --formats onnx,tflite --out /tmp/table.md

Exit status 1 if a row fails the right artifact or misses a required fault.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from styleport import checkpoints, faults, reference
from styleport.export.calibration import images_at
from styleport.parity.command import parse_sizes
from styleport.precision import Precision
from styleport.tolerances import Tolerance

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "styleport" / "data" / "models"
CALIBRATION = tuple(sorted((ROOT / "styleport" / "data" / "samples").glob("*.jpg")))  # export-time photos
# the six test photos (three show scenes the bundled samples also show, in other crops and sizes)
VERIFY = tuple(sorted((ROOT / "tests" / "fixtures" / "photos").glob("*.jpg")))
SIZES = "48x64,37x53"


def run(model_path: Path, other_path: Path, formats, sizes, folder: Path, progress=print, precisions=()):
    checkpoint = checkpoints.load(model_path)
    model = checkpoint.build("cpu")
    w, other = reference.read_weights(model_path), reference.read_weights(other_path)
    images = images_at(list(VERIFY), [s for s in sizes for _ in VERIFY])
    measured = faults.cases(w, images, other, dark_sizes=sizes)  # photos, then the dark frame at each size
    rows = [r for r in faults.every_row(formats) if not precisions or r.precision.value in precisions]
    return faults.measure(model, checkpoint, rows, measured, folder, CALIBRATION, progress=progress)


def cell_text(cell: faults.Cell) -> str:
    if cell.caught:
        verdict = "**CAUGHT**"
    elif not cell.required:
        verdict = "missed (not required)"
    elif cell.inseparable:
        verdict = "missed (inseparable)"
    elif cell.known:
        verdict = "missed (known miss)"
    else:
        verdict = "**MISSED**"
    emu = ""
    if cell.emulated_psnr is not None:
        emu = f"; emu {cell.emulated_psnr:.1f} / {cell.emulated_max_abs:.3g}"
    return f"{cell.psnr:.1f} / {cell.max_abs:.3g}{emu} {verdict}"


def fp16_numbers(model: Path, sizes: str) -> dict:
    """bench/fp16_emulation.py's worst cases for ``model`` at ``sizes`` (run as its own process)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "fp16.json"
        script = str(ROOT / "bench" / "fp16_emulation.py")
        subprocess.run(
            [sys.executable, script, "--model", str(model), "--sizes", sizes, "--json", str(out)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        return json.loads(out.read_text())


def fp16_paragraph(fp16: dict | None) -> list[str]:
    """Why the fp16 rows have no emulated second condition, with the numbers measured in this run."""
    if fp16 is None:
        return ["**fp16 emulation:** not measured in this run (`python bench/fp16_emulation.py`).", ""]
    w = fp16["worst"]
    right, emu = w["right fp16 artifact vs reference"], w["right fp16 artifact vs fp16 emulation"]
    alone, faulty = w["fault alone (eps 1e-3 vs 1e-5, reference)"], w["faulty artifact vs reference"]
    farther = emu[0] < right[0]
    return [
        "**fp16 has no such second condition, measured.** Norm eps x100 moves the output "
        + ("less than" if alone[0] > right[0] else "about as much as"),
        "fp16 compute itself does, and an fp16 emulation (weights and every op's output rounded to fp16) lands",
        ("*farther* from" if farther else "no nearer to" if emu[0] <= right[0] + faults.GAP_DB else "nearer to")
        + " ONNX Runtime's fp16 output than the float reference does -- ORT's fp16 kernels",
        "keep more precision inside an op than per-op rounding assumes. `python bench/fp16_emulation.py`",
        f"(`{fp16['model']}`, the same {fp16['cases']} cases, run by this script): right fp16 file vs reference",
        f"{right[0]:.1f} dB / max abs {right[1]:.3g}, vs the emulation {emu[0]:.1f} / {emu[1]:.3g}; the fault alone",
        f"{alone[0]:.1f} / {alone[1]:.3g}; faulty file vs reference {faulty[0]:.1f} / {faulty[1]:.3g}.",
        "So the fp16 rows' eps cells are judged by the float reference alone, by the rule below, rather than",
        "papered over by a looser rule.",
        "",
    ]


def markdown(results, model: Path, other: Path, sizes, seconds: float, parts: int = 1, loads=(), fp16=None) -> str:
    names = [f.name for f in faults.FAULTS]
    lines = [
        "# How we know an artifact is right",
        "",
        "*Generated by `python bench/fault_catch.py` — do not edit by hand.*",
        "",
        "Every exported file is run in its real runtime and compared with the reference, case by case,",
        "against its tolerance row (`styleport/tolerances.py`). A row is only worth something if a wrong",
        "artifact fails it, so each row is put to the test here: the right artifact must pass, and each",
        "realistic fault must be **caught** (at least one case outside the row, which fails verification).",
        "Required (issue #11): fp32 / fp16 rows catch every fault; lossy rows (int8, uint8, palette) every",
        "fault but the smallest noise. A required fault that is not caught is counted as a miss below, with",
        "its reason: *inseparable* (within",
        f"{faults.GAP_DB:g} dB of the right artifact's worst PSNR and {faults.MAX_ABS_RATIO:g}x its max abs -- under both conditions when",
        "there are two -- a smaller change than the format itself makes, which no row can catch without",
        "failing right artifacts too) or a listed *known miss*.",
        "",
        "**Two conditions for weight-quantized artifacts.** A lossy artifact's own quantization error is as",
        "large as a subtle fault, so its float row (what users care about) cannot tell them apart. Such an",
        "artifact must also match a *quantization-emulated reference*: the checkpoint's weights put through",
        "the scheme the artifact declares (`styleport/verification/emulate.py`: symmetric int8 grids for",
        "ONNX/ORT/CoreML/TFLite, TF.js's affine uint8 grid, coremltools' k-means palettes; ONNX QDQ activation",
        "grids read from the file -- calibrated ranges, never its weights; TFLite's per-run int8 activations),",
        "within a tight second row (`tolerances.EMULATED`). A faulty artifact moves away from the emulation",
        "by the fault's full effect. Cells of such rows show `float PSNR / max abs; emu PSNR / max abs`.",
        "",
        "**8-bit activation files (`[a8]` rows) and TFLite int8 are re-exported, not emulated.** With 8-bit activations a",
        "numpy emulation lands as far from ONNX Runtime as the float reference does (a rounding edge crossed",
        "in one layer flips the next 8-bit grid; emulate.py). Their reference is the checkpoint quantized",
        "again by styleport's exporter with the scheme and activation grids the file declares, run in ONNX",
        "Runtime's CPU provider (`styleport.export.onnx_int8.requantize`; for an .ort file saved as ORT the same",
        "way): the right file matches bit for bit. It shares the exporter and the quantizer with the file, so it proves",
        "the file is this checkpoint's, quantized as declared; the float row, whose reference is independent,",
        "proves the quantization sound. It applies when the file's `int8_requantize` stamp (exporter code,",
        "torch / onnx / onnxsim / onnxruntime versions) is the verifying installation's; otherwise the float",
        "row alone, and no dark frame. TFLite dynamic-range int8 files likewise: their kernels quantize each",
        "activation per run, which the numpy emulation reproduces only to 43-48 dB, so a file with this",
        "installation's `int8_reconvert` stamp is compared with the checkpoint converted again",
        "(`styleport.export.tflite.reconvert`, the same bytes) in LiteRT; other files with the emulation.",
        "",
        *fp16_paragraph(fp16),
        "",
        "How the numbers are made:",
        "",
        f"- network `{model.name}` (trained, bundled); the 'other style' fault uses `{other.name}`;",
        f"- verification photos: the {len(VERIFY)} in tests/fixtures/photos ({', '.join(p.stem for p in VERIFY)}) at",
        f"  {', '.join(f'{h}x{w}' for h, w in sizes)}, rounded to 8-bit pixels; exports calibrate on the bundled samples",
        "  (three of the test photos show the same scenes in other crops and sizes);",
        "- and the **dark frame** at each size, as every verification runs it (`verification.engine.dark_frame`:",
        "  black with one grey-1 pixel per 48x64 tile, a video's fade to black). Photos give the first instance",
        "  norm feature variances of 1e4 and more, where its epsilon is invisible; on this frame they are ~1e-3",
        "  and a wrong epsilon moves the output by ~15 levels while fp16 compute and 8-bit weights stay as close",
        "  as on photos. Quantized rows say what they hold there (`Tolerance.dark_frame`): int8 / uint8 / palette",
        "  files move the frame further from the float reference than photos (trio at 256 px: 26-49 dB), and",
        "  their emulation reproduces it, so only their emulated row is held on it; 8-bit-activation rows skip it;",
        "- reference: `styleport.reference`, an independent float64 numpy forward pass of the checkpoint that",
        "  shares no code with `styleport/model.py` or `styleport/checkpoints.py` (held to frozen golden",
        "  outputs by tests/test_reference.py);",
        "- model faults (weights, eps, padding, another style) change the function the artifact computes:",
        "  the faulty artifact's output is the real artifact's output plus the fault's effect computed by the",
        "  reference, clipped to 0..255 (tests/test_faults.py also exports faulted networks for real);",
        "  output faults (channel swap, blur, constant) are applied to the artifact's output;",
        "- each cell: worst PSNR (dB) / worst max abs (0..255) over the cases, and the verdict, from the",
        "  engine's own rule (`styleport.verification.engine.judge`, the code `export`, `parity` and `verify` run);",
        "- sizes: the rows were also measured where parity measures -- `styleport parity` on the held-out",
        "  verification photos (eiffelTower, montStMichel, neuschwansteinCastle) at 256x256 and 239x321, every",
        "  bundled network; those numbers are in each row's reason in `styleport/tolerances.py` and set the",
        "  rows where they are lower than here (`--sizes 256x256,239x321` runs this table at those sizes).",
        "",
        "Faults: " + "; ".join(f"**{f.name}**: {f.what}" for f in faults.FAULTS) + ".",
        "",
        "| row | runtime | tolerance | right artifact | " + " | ".join(names) + " |",
        "|---" * (4 + len(names)) + "|",
    ]
    for r in results:
        tol = r.tolerance
        bound = f">= {tol.min_psnr:g} dB" + (f", max abs <= {tol.max_abs:g}" if tol.max_abs is not None else "")
        if r.emulation is not None:
            et = r.emulation.tolerance
            bound += f"; emu ({r.emulation.scheme}) >= {et.min_psnr:g} dB" + (
                f", max abs <= {et.max_abs:g}" if et.max_abs is not None else ""
            )
        variant = f" [{r.variant}]" if r.variant else ""
        right = r.cells["right"]
        emu = (
            f"; emu {right.emulated_psnr:.1f} / {right.emulated_max_abs:.3g}" if right.emulated_psnr is not None else ""
        )
        right_text = f"{right.psnr:.1f} / {right.max_abs:.3g}{emu} {'FAILS' if right.caught else 'passes'}"
        cells = " | ".join(cell_text(r.cells[n]) for n in names)
        lines.append(f"| {r.row.label}{variant} | {r.runtime} | {bound} | {right_text} | {cells} |")
    bad = [f"{r.row.label}: {'; '.join(r.problems)}" for r in results if r.problems]
    missed = [(r, n, c) for r in results for n, c in r.cells.items() if n != "right" and c.required and not c.caught]
    required = sum(c.required for r in results for n, c in r.cells.items() if n != "right")
    known = [(r, n, c) for r, n, c in missed if c.known and not c.inseparable]
    inseparable = [(r, n, c) for r, n, c in missed if c.inseparable]
    if known:
        lines += [
            "",
            "Known misses (`styleport.faults.KNOWN_MISSES`): a separable fault the row lets through because a",
            "right artifact of another network, scheme, photo or size measured lower than the fault does here:",
            "",
        ]
        lines += [f"- {r.row.label}, {n} ({c.psnr:.1f} dB): {c.known}" for r, n, c in known]
    by_fault = sorted({n for _, n, _ in inseparable})
    lines += [
        "",
        f"Caught: **{required - len(missed)} / {required}** required (row, fault) cells"
        + ("; misses by row:" if missed else "."),
        "",
    ]
    lines += [
        f"- {r.row.label}: "
        + ", ".join(
            f"{n} ({'inseparable' if c.inseparable else 'known miss' if c.known else 'MISSED'})"
            for n, c in r.cells.items()
            if n != "right" and c.required and not c.caught
        )
        for r in results
        if any(n != "right" and c.required and not c.caught for n, c in r.cells.items())
    ]
    lines += [
        "",
        "Result: "
        + (
            "every row passes its right artifact and no separable fault goes unlisted; "
            + (
                "the issue's requirement is met."
                if not missed
                else f"the requirement is NOT met: {len(missed)} required cells are missed, {len(inseparable)} inseparable"
                + (f" (faults smaller than the format's own error: {', '.join(by_fault)})" if by_fault else "")
                + f" and {len(known)} known misses."
            )
            if not bad
            else "PROBLEMS: " + " | ".join(bad)
        ),
    ]
    lines += [
        "",
        f"Measured in {seconds:.0f} s"
        + (f" (the sum of {parts} parts measured apart, `--render`)" if parts > 1 else "")
        + f" on {platform.machine()} {platform.system()} ({platform.processor() or 'cpu'}), {os.cpu_count()} cores"
        + (f", load average {min(loads):.1f}-{max(loads):.1f} at the end of each part" if loads else "")
        + ";",
        "CoreML through styleport's numpy ML Program interpreter (Apple's runtime needs macOS).",
        "",
    ]
    return "\n".join(lines)


def _tol(t) -> dict:
    return {
        k: getattr(t, k) if k != "precision" else t.precision.value
        for k in ("format", "precision", "min_psnr", "max_abs", "reason", "variant")
    }


def _untol(d: dict) -> Tolerance:
    return Tolerance(
        d["format"], Precision.parse(d["precision"]), d["min_psnr"], d["max_abs"], d["reason"], d["variant"]
    )


def to_json(results, seconds: float, load: float, fp16: dict | None = None) -> dict:
    """Every verdict and number of a run, as measured (so parts measured separately render as one table)."""
    return {
        "seconds": seconds,
        "load": load,
        "fp16_emulation": fp16,
        "rows": [
            {
                "format": r.row.format,
                "precision": r.row.precision.value,
                "options": dict(r.row.options),
                "variant": r.variant,
                "runtime": r.runtime,
                "tolerance": _tol(r.tolerance),
                "emulation": {"scheme": r.emulation.scheme, "tolerance": _tol(r.emulation.tolerance)}
                if r.emulation
                else None,
                "cells": {n: dataclasses.asdict(c) for n, c in r.cells.items()},
            }
            for r in results
        ],
    }


def from_json(data: dict) -> list:
    from styleport.verification.engine import Emulation

    out = []
    for d in data["rows"]:
        emu = d["emulation"]
        out.append(
            faults.RowResult(
                faults.Row(d["format"], Precision.parse(d["precision"]), d["options"]),
                _untol(d["tolerance"]),
                d["variant"],
                {n: faults.Cell(**c) for n, c in d["cells"].items()},
                d["runtime"],
                Emulation(emu["scheme"], _untol(emu["tolerance"])) if emu else None,
            )
        )
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=MODELS / "great_wave.pth")
    parser.add_argument("--other", type=Path, default=MODELS / "starry_night.pth", help="the 'other style' fault")
    parser.add_argument("--formats", default="", help="comma-separated (default: every registered format)")
    parser.add_argument("--precisions", default="", help="comma-separated (default: every precision of each format)")
    parser.add_argument("--sizes", default=SIZES)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "verification.md")
    parser.add_argument("--json", type=Path, help="also write every verdict and number as JSON")
    parser.add_argument(
        "--render",
        type=Path,
        nargs="+",
        help="no measuring: write the table from these --json files (parts measured apart; a later row replaces one of the same label)",
    )
    args = parser.parse_args(argv)
    sizes = parse_sizes(args.sizes)
    formats = tuple(f for f in args.formats.split(",") if f)
    precisions = tuple(p for p in args.precisions.split(",") if p)
    if args.render:
        parts = [json.loads(p.read_text()) for p in args.render]
        by_label = {}  # a row measured again in a later part replaces the earlier one
        for r in (r for part in parts for r in from_json(part)):
            by_label[r.row.label] = r
        results = list(by_label.values())
        seconds = sum(part["seconds"] for part in parts)
        count = len(parts)
        loads = [part["load"] for part in parts if "load" in part]
        fp16 = next((part["fp16_emulation"] for part in reversed(parts) if part.get("fp16_emulation")), None)
    else:
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            results = run(args.model, args.other, formats, sizes, Path(tmp), precisions=precisions)
        fp16 = fp16_numbers(args.model, args.sizes)
        seconds = time.perf_counter() - start
        count = 1
        loads = [os.getloadavg()[0]]
        if args.json:
            text = json.dumps(
                to_json(results, seconds, loads[0], fp16), indent=1, default=lambda x: None if not np.isfinite(x) else x
            )
            args.json.write_text(text)
    text = markdown(results, args.model, args.other, sizes, seconds, count, loads, fp16)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out}")
    return 1 if any(r.problems for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
