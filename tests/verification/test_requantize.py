"""Re-exported references: 8-bit activation (a8w8) QDQ files and TFLite dynamic-range int8 files.

With 8-bit activations ONNX Runtime's output sits ~39 dB from the float reference, and weight noise of 1%,
the output conv x1.02 or a wrong norm eps move it less than that (docs/verification.md: "inseparable" on the
float row). The second condition re-quantizes the checkpoint with the file's declared scheme and activation
grids (styleport.export.onnx_int8.requantize) and runs it in ONNX Runtime beside the file: the right file
matches bit for bit, a faulted one does not. TFLite's hybrid int8 kernels quantize activations per run, which
a numpy emulation reproduces only to 43-48 dB: its files are compared with the checkpoint converted again
(styleport.export.tflite.reconvert) in LiteRT. Proven here with real files exported from a faulted great_wave.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from styleport import checkpoints
from styleport.errors import StyleportError
from styleport.model import StyleInstanceNorm
from styleport.precision import Precision
from styleport.tolerances import lookup
from styleport.verification import emulate, engine

pytest.importorskip("onnxruntime")

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "styleport" / "data" / "models" / "great_wave.pth"
PHOTOS = tuple(ROOT / "tests" / "fixtures" / "photos" / n for n in ("gatewayofIndia.jpg", "petra.jpg"))
SIZE = (48, 64)
SCHEME = {"int8_scheme": "a8w8-pc-enc"}  # the fast scheme (bench/int8_speed.py)


def _noisy(model, fraction=0.01):
    import torch

    bad = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for p in bad.parameters():
            p.add_(torch.randn(p.shape, generator=gen) * fraction * p.pow(2).mean().sqrt())
    return bad


def _eps_faulted(model):
    bad = copy.deepcopy(model)
    for m in bad.modules():
        if isinstance(m, StyleInstanceNorm):
            m.eps = 1e-3
    return bad


def _export_int8(net, ckpt, fmt: str, name: str, folder: Path, options=None):
    """A real int8 export of ``net`` (described by ``ckpt``) into ``folder``: its Artifact."""
    from styleport.export import base as exporters
    from styleport.export.base import ExportRequest
    from styleport.export.pipeline import Job, export_one

    exporter = exporters.get(fmt)
    request = ExportRequest(fmt, Precision.INT8, (SIZE,), (), dict(options or {}))
    path = folder / exporter.filename(name.replace(" ", "_").replace("%", ""), Precision.INT8)
    return export_one(net, ckpt, Job(exporter, request, path), False, ()).artifact


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory):
    """{fault: (result on photos, result with the dark frame)} for real a8w8 files of great_wave."""
    ckpt = checkpoints.load(MODEL)
    model = ckpt.build()
    tmp = tmp_path_factory.mktemp("a8")
    out = {}
    with engine.Reference(model) as ref:
        for name, net in (("right", model), ("noise 1%", _noisy(model)), ("eps x100", _eps_faulted(model))):
            artifact = _export_int8(net, ckpt, "onnx", name, tmp, SCHEME)
            tol = engine.tolerance_for("onnx", Precision.INT8, artifact.details, model.state_dict())
            emulation = engine.emulation_for("onnx", Precision.INT8, artifact.details, artifact.path)
            assert tol.variant == "a8" and emulation is not None and emulation.requantize
            out[name] = tuple(
                engine.check(
                    artifact.path,
                    "onnx",
                    Precision.INT8,
                    "onnxruntime",
                    ref,
                    engine.load_inputs(PHOTOS, [SIZE], dark=dark),
                    [("", None)],
                    tolerance=tol,
                    emulation=emulation,
                )
                for dark in (False, True)
            )
    return out


def test_the_right_a8_file_matches_its_requantized_reference_bit_for_bit(verdicts):
    photos, with_dark = verdicts["right"]
    assert photos.status == with_dark.status == "passed", with_dark.failure_text()
    assert all(c.emulated.max_abs == 0 for c in with_dark.cases)
    assert 30 < photos.psnr < 50  # 8-bit activations: far from the float reference, as its row says


@pytest.mark.parametrize("fault", ["noise 1%", "eps x100"])
def test_a_faulted_a8_file_passes_the_float_row_and_fails_the_requantized_one(verdicts, fault):
    photos, with_dark = verdicts[fault]
    assert all(c.diff.psnr >= lookup("onnx", Precision.INT8, "a8").min_psnr for c in photos.cases)  # the blind spot
    for result in (photos, with_dark):
        assert result.status == "failed"
        assert all(c.emulated.psnr < 60 for c in result.failures), result.failure_text()


def test_requantize_refuses_grids_of_another_graph():
    from styleport.export.onnx_int8 import requantize

    model = checkpoints.load(MODEL).build()
    with pytest.raises(StyleportError, match="activation grids are not the"):
        requantize(model, "a8w8-pc-enc", (("not_a_tensor", 0.1, np.uint8(128)),))


def test_no_requantized_reference_without_this_installations_stamp(tmp_path):
    """A file from another exporter or package version keeps its float row only, and skips the dark frame
    (its float row is lifted there: nothing would judge it)."""
    grids = (("conv2d_6", 0.5, np.uint8(3)),)
    path = tmp_path / "m.onnx"
    assert engine.emulation_for("onnx", Precision.INT8, {**SCHEME, "int8_requantize": "0" * 16}, path) is None
    assert engine.emulation_for("onnx", Precision.INT8, dict(SCHEME), path) is None  # before the stamp existed
    assert emulate.requantize_grids("onnx", tmp_path / "missing.onnx") == ()
    a8 = lookup("onnx", Precision.INT8, "a8")
    assert a8.dark_frame == "emulated"
    assert not engine.runs_on(a8, dark=True, emulation=None)
    assert engine.runs_on(a8, dark=False, emulation=None)
    with_grids = engine.Emulation("onnx:a8w8-pc-enc", a8, requantize=grids)
    assert engine.runs_on(a8, dark=True, emulation=with_grids)


@pytest.fixture(scope="module")
def tflite_verdicts(tmp_path_factory):
    """{fault: result with the dark frame} for real dynamic-range int8 .tflite files of great_wave."""
    pytest.importorskip("tensorflow")
    pytest.importorskip("ai_edge_litert")
    ckpt = checkpoints.load(MODEL)
    model = ckpt.build()
    tmp = tmp_path_factory.mktemp("tflite")
    out = {}
    with engine.Reference(model) as ref:
        for name, net in (("right", model), ("noise 1%", _noisy(model))):
            artifact = _export_int8(net, ckpt, "tflite", name, tmp)
            emulation = engine.emulation_for("tflite", Precision.INT8, artifact.details, artifact.path)
            assert emulation is not None and emulation.reconvert
            out[name] = engine.check(
                artifact.path,
                "tflite",
                Precision.INT8,
                "litert",
                ref,
                engine.load_inputs(PHOTOS, [SIZE]),
                [("", None)],
                tolerance=lookup("tflite", Precision.INT8),
                emulation=emulation,
            )
    return out


def test_the_right_tflite_int8_file_matches_the_reconverted_checkpoint_exactly(tflite_verdicts):
    right = tflite_verdicts["right"]
    assert right.status == "passed", right.failure_text()
    assert all(c.emulated.max_abs == 0 for c in right.cases)


def test_a_noisy_tflite_int8_file_passes_its_float_row_and_fails_the_reconverted_one(tflite_verdicts):
    bad = tflite_verdicts["noise 1%"]
    photos = [c for c in bad.cases if c.image != engine.DARK_FRAME]
    assert all(c.diff.psnr >= lookup("tflite", Precision.INT8).min_psnr for c in photos)  # the float blind spot
    assert bad.status == "failed" and all(c.emulated.psnr < 60 for c in bad.failures), bad.failure_text()


def test_a_tflite_file_of_another_exporter_keeps_the_numpy_emulation():
    for details in ({}, {"int8_reconvert": "0" * 16}):
        emulation = engine.emulation_for("tflite", Precision.INT8, details)
        assert emulation.scheme == "tflite:int8" and not emulation.reconvert and emulation.tolerance.min_psnr == 40


def test_one_reference_keeps_the_onnx_and_the_ort_requantization_apart(tmp_path):
    """The same scheme and grids make two references: the .ort one is saved as ORT (its rewrites drift ~1e-4
    from plain ONNX, enough to flip 8-bit grids). A reference reused across them failed the .onnx file."""
    ckpt = checkpoints.load(MODEL)
    model = ckpt.build()
    inputs = engine.load_inputs(PHOTOS[:1], [(96, 128)], dark=False)
    with engine.Reference(model) as ref:
        for fmt in ("ort", "onnx"):
            artifact = _export_int8(model, ckpt, fmt, "right", tmp_path, SCHEME)
            emulation = engine.emulation_for(fmt, Precision.INT8, artifact.details, artifact.path)
            tol = engine.tolerance_for(fmt, Precision.INT8, artifact.details, model.state_dict())
            result = engine.check(
                artifact.path, fmt, Precision.INT8, "onnxruntime", ref, inputs, [("", None)],
                tolerance=tol, emulation=emulation,
            )  # fmt: skip
            assert result.status == "passed" and result.emulated_max_abs == 0, (fmt, result.failure_text())
