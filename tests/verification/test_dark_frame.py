"""The dark frame (verification.engine.dark_frame) catches a wrong instance-norm epsilon that photos cannot.

On photos the first norm's feature variances are 1e4 and more, so a file whose norms use eps 1e-3 (Keras'
default) instead of 1e-5 differs from the reference less than fp16 compute does (docs/verification.md). On a
near-black frame it renders ~15 levels off. Proven here with real files exported from a faulted great_wave.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from styleport import checkpoints, reference
from styleport.model import StyleInstanceNorm
from styleport.precision import Precision
from styleport.tolerances import EMULATED, TOLERANCES, Tolerance, lookup
from styleport.verification import engine

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "styleport" / "data" / "models" / "great_wave.pth"
PHOTOS = tuple(ROOT / "tests" / "fixtures" / "photos" / n for n in ("gatewayofIndia.jpg", "petra.jpg"))
SIZE = (48, 64)


@pytest.mark.parametrize("size", [(48, 64), (37, 53), (256, 256), (239, 321), (1080, 1920), (1, 1)])
def test_dark_frame_is_black_with_level_one_pixels_at_a_fixed_density(size):
    img = engine.dark_frame(*size)
    assert img.shape == (*size, 3) and img.dtype == np.float32
    lit = img[..., 0] == 1
    assert set(np.unique(img)) <= {0.0, 1.0} and lit.any()
    assert (img == img[..., :1]).all()  # grey
    if size[0] * size[1] >= 48 * 64:  # one lit pixel per 48x64 tile: the first norm sees the same variance
        assert 0.9 < lit.sum() * 48 * 64 / (size[0] * size[1]) < 1.6


def test_a_wrong_norm_eps_moves_the_dark_frame_far_more_than_a_photo():
    """The reference itself shows why the frame exists (float64, no runtime involved)."""
    w = reference.read_weights(MODEL)
    from styleport.export.calibration import images_at
    from styleport.metrics import psnr

    photo = images_at([PHOTOS[0]], [SIZE])[0]
    dark = engine.dark_frame(*SIZE)
    moved = {
        name: psnr(reference.forward(w, img), reference.forward(w, img, eps=1e-3))
        for name, img in (("photo", photo), ("dark", dark))
    }
    assert moved["photo"] > 80 and moved["dark"] < 50, moved  # fp16 files sit at ~79 dB on both
    assert reference.forward(w, dark).std() > 40  # not a flat reference: the network paints the frame


def _eps_faulted(model):
    bad = copy.deepcopy(model)
    for m in bad.modules():
        if isinstance(m, StyleInstanceNorm):
            m.eps = 1e-3  # instance attribute over the class's 1e-5: traced into every exported norm
    return bad


@pytest.fixture(scope="module")
def great_wave():
    ckpt = checkpoints.load(MODEL)
    return ckpt, ckpt.build()


@pytest.mark.parametrize(
    ("fmt", "precision", "runtime", "needs"),
    [("onnx", Precision.FP16, "onnxruntime", "onnxruntime"), ("coreml", Precision.FP32, "coreml", "coremltools")],
)
def test_photos_pass_a_wrong_eps_file_and_the_dark_frame_fails_it(great_wave, tmp_path, fmt, precision, runtime, needs):
    pytest.importorskip(needs)
    from styleport.export import base as exporters
    from styleport.export.base import ExportRequest
    from styleport.export.pipeline import Job, export_one

    ckpt, model = great_wave
    exporter = exporters.get(fmt)
    results = {}
    with engine.Reference(model) as ref:
        for name, net in (("right", model), ("eps x100", _eps_faulted(model))):
            out = tmp_path / exporter.filename(name.replace(" ", "_"), precision)
            artifact = export_one(
                net, ckpt, Job(exporter, ExportRequest(fmt, precision, (SIZE,)), out), False, ()
            ).artifact
            tol = engine.tolerance_for(fmt, precision, artifact.details, model.state_dict())
            assert tol.dark_frame == "both"
            for dark in (False, True):
                inputs = engine.load_inputs(PHOTOS, [SIZE], dark=dark)
                results[name, dark] = engine.check(
                    artifact.path, fmt, precision, runtime, ref, inputs, [("", None)], tolerance=tol
                )
    assert results["right", False].status == results["right", True].status == "passed"
    assert results["eps x100", False].status == "passed"  # the blind spot: photos alone let it through
    bad = results["eps x100", True]
    assert bad.status == "failed"
    assert [c.image for c in bad.failures] == [engine.DARK_FRAME], bad.failure_text()
    assert bad.failures[0].diff.max_abs > 5  # levels, on a 0..255 image


def test_rows_that_do_not_hold_the_dark_frame_say_why():
    policies = {t.dark_frame for t in TOLERANCES}
    assert policies <= {"both", "emulated", "none"}
    for t in TOLERANCES:
        if t.dark_frame != "both":
            assert "dark frame" in t.reason, t
        if t.dark_frame == "emulated":  # only the emulated row holds there: it must exist
            assert any((e.format, e.precision, e.variant) == (t.format, t.precision, t.variant) for e in EMULATED), t
    assert lookup("onnx", Precision.INT8, "a8").dark_frame == "emulated"
    assert lookup("onnx", Precision.FP16).dark_frame == "both"
    with pytest.raises(ValueError, match="dark_frame 'emulate'"):  # a typo is refused, not read as "both"
        Tolerance("onnx", Precision.FP32, 90.0, None, "typo", dark_frame="emulate")


def test_case_tolerance_lifts_only_an_emulated_rows_float_bound_on_the_dark_frame():
    int8 = lookup("onnx", Precision.INT8)
    lifted = engine.case_tolerance(int8, dark=True)
    assert lifted.min_psnr == -np.inf and lifted.max_abs is None
    assert engine.case_tolerance(int8, dark=False) is int8
    fp16 = lookup("onnx", Precision.FP16)
    assert engine.case_tolerance(fp16, dark=True) is fp16
    a8 = lookup("onnx", Precision.INT8, "a8")
    emulation = engine.Emulation("onnx:a16w8", lookup("onnx", Precision.INT8))
    assert [engine.runs_on(t, True, emulation) for t in (fp16, int8, a8)] == [True, True, True]
    assert [engine.runs_on(t, True, None) for t in (fp16, int8, a8)] == [True, False, False]  # nothing would judge it
    none = dataclasses.replace(int8, dark_frame="none")
    assert not engine.runs_on(none, True, emulation)
    assert all(engine.runs_on(t, False, e) for t in (fp16, int8, a8, none) for e in (None, emulation))
    assert [engine.float_held(t, dark=True) for t in (fp16, int8)] == [True, False]
