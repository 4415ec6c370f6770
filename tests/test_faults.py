"""Fault injection (styleport/faults.py): the tolerance rows catch realistic faults on a trained network.

The default run proves the ONNX rows (fp32, fp16, int8 with its emulated second condition) on the
bundled great_wave at 48x64 and checks
that the composed faulty output (artifact + the fault's effect from the reference) gives the same
verdict as a faulted network exported for real. The full table (every format) is `slow` and is what
bench/fault_catch.py writes to docs/verification.md.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from styleport import checkpoints, faults, reference
from styleport.export.calibration import images_at
from styleport.metrics import psnr
from styleport.precision import Precision
from styleport.tolerances import Tolerance, lookup
from tests.conftest import assert_contrast

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "styleport" / "data" / "models"
SAMPLES = tuple(sorted((ROOT / "styleport" / "data" / "samples").glob("*.jpg")))  # calibration
HELD_OUT = tuple(ROOT / "tests" / "fixtures" / "photos" / n for n in ("gatewayofIndia.jpg", "petra.jpg"))

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def trained():
    ckpt = checkpoints.load(MODELS / "great_wave.pth")
    w, other = reference.read_weights(ckpt.path), reference.read_weights(MODELS / "starry_night.pth")
    images = images_at(list(HELD_OUT), [(48, 64)] * len(HELD_OUT))
    measured = faults.cases(w, images, other, dark_sizes=[(48, 64)])  # photos + the dark frame, as verification runs
    for case in measured:
        assert_contrast(case.reference, "great_wave reference")
    return ckpt, ckpt.build(), measured


@pytest.fixture(scope="module")
def onnx_rows(trained, tmp_path_factory):
    ckpt, model, measured = trained
    rows = [
        faults.Row("onnx", Precision.FP32),
        faults.Row("onnx", Precision.FP16),
        faults.Row("onnx", Precision.INT8, {"int8_scheme": "a16w8"}),
    ]
    return faults.measure(model, ckpt, rows, measured, tmp_path_factory.mktemp("faults"), SAMPLES)


def test_onnx_rows_pass_the_right_artifact_and_catch_every_separable_fault(onnx_rows):
    for result in onnx_rows:
        assert not result.problems, f"{result.row.label}: {result.problems}"
        assert not result.cells["right"].caught
    fp32 = {name: cell.caught for name, cell in onnx_rows[0].cells.items() if name != "right"}
    assert all(fp32.values()), fp32  # fp32 catches everything, including norm eps x100 (83 dB < 90)
    int8 = onnx_rows[2].cells
    assert all(c.caught or c.known for n, c in int8.items() if n not in ("right", "noise 0.5%")), int8  # all required


def test_the_emulated_condition_is_what_catches_the_subtle_faults_on_int8(onnx_rows):
    """The int8 float row alone lets 1% noise and the output conv x1.02 through; the second condition (vs the
    quantization-emulated reference, activation grids read from the file) catches them. Norm eps x100 hides
    under both on photos; the dark frame, held by the emulated row only, catches it."""
    result = onnx_rows[2]
    assert result.emulation is not None and result.emulation.scheme == "onnx:a16w8" and result.emulation.activations
    emu = result.emulation.tolerance
    right = result.cells["right"]
    assert not faults.outside(emu, right.emulated_psnr, right.emulated_max_abs)
    assert right.emulated_psnr > right.psnr + 20  # the emulation reproduces the artifact's quantization
    eps = result.cells["IN eps x100"]
    assert eps.caught and not eps.known and eps.emulated_psnr < emu.min_psnr - 20
    for name in ("noise 1%", "out conv x1.02"):
        cell = result.cells[name]
        assert not faults.outside(result.tolerance, cell.psnr, cell.max_abs), name  # float row: passes
        assert faults.outside(emu, cell.emulated_psnr, cell.emulated_max_abs) and cell.caught, name


def test_a_looser_row_would_miss_faults(onnx_rows):
    """The proof can fail: the old 30 dB int8 row let noise, a scaled output conv and 4-bit weights through."""
    cells = onnx_rows[2].cells
    loose = Tolerance("onnx", Precision.INT8, 30.0, None, "the pre-fault-injection row")
    missed = {n for n, c in cells.items() if n != "right" and not faults.outside(loose, c.psnr, c.max_abs)}
    assert {"noise 1%", "out conv x1.02", "int4 as int8"} <= missed
    rejudged = {
        n: faults.Cell(c.psnr, c.max_abs, n not in missed and n != "right", c.required, c.inseparable)
        for n, c in cells.items()
    }
    assert any("misses 'out conv x1.02'" in p for p in faults.problems(loose, Precision.INT8, rejudged))


@pytest.mark.parametrize("name", ["out conv x1.02", "noise 1%"])
def test_composed_fault_matches_a_real_faulty_export(trained, tmp_path, name):
    """Export the faulted network for real: same verdict, PSNR within 0.5 dB of the composed estimate."""
    from styleport.export import base as exporters
    from styleport.export.base import ExportRequest
    from styleport.export.pipeline import Job, export_one
    from styleport.runtimes import base as runtimes

    ckpt, model, measured = trained
    fault = faults.by_name(name)
    state = fault.weights(reference.weights_of(model.state_dict()), None)
    bad = copy.deepcopy(model)
    bad.load_state_dict({k: torch.from_numpy(v).float() for k, v in state.items()})
    exporter = exporters.get("onnx")
    sizes = ((48, 64),)
    out = tmp_path / "faulty_fp32.onnx"
    export_one(bad, ckpt, Job(exporter, ExportRequest("onnx", Precision.FP32, sizes), out), False, ())
    with runtimes.get("onnxruntime").open(out) as session:
        real = [session.run(c.image) for c in measured]
    tol = lookup("onnx", Precision.FP32)
    real_psnr = min(psnr(c.reference, y) for c, y in zip(measured, real, strict=True))
    composed = [faults.inject(fault, c, c.reference) for c in measured]  # fp32 artifact ~ reference
    composed_psnr = min(psnr(c.reference, y) for c, y in zip(measured, composed, strict=True))
    assert abs(real_psnr - composed_psnr) < 0.5, (real_psnr, composed_psnr)
    assert faults.outside(tol, real_psnr, 0.0)  # the real faulty file fails its row


@pytest.mark.slow
def test_every_row_of_the_full_table(tmp_path):
    """What docs/verification.md shows: every format x precision x variant on great_wave."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("fault_catch", ROOT / "bench" / "fault_catch.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    results = bench.run(
        MODELS / "great_wave.pth",
        MODELS / "starry_night.pth",
        (),
        ((48, 64), (37, 53)),
        tmp_path,
        progress=lambda _: None,
    )
    bad = [f"{r.row.label}: {r.problems}" for r in results if r.problems]
    assert not bad, " | ".join(bad)
