"""The verification engine: Status, typed errors with the numbers, skips, and input quantization."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from styleport.precision import Precision
from styleport.runtimes import base as runtimes
from styleport.runtimes.base import RunInfo, Runtime, Session
from styleport.tolerances import lookup
from styleport.verification import engine
from styleport.verification.engine import Input, Status
from tests.conftest import make_net

NET = make_net()


class _RoundingSession(Session):
    """Like a CoreML image-input model: rounds the input to 8-bit pixels, then runs the network."""

    info = RunInfo("test-rounding", "cpu")
    input_bits = 8

    def run(self, image, style_weights=None):
        x = torch.from_numpy(np.rint(image).astype(np.float32)).permute(2, 0, 1)[None]  # (H,W,3) -> (1,3,H,W)
        with torch.inference_mode():
            return NET(x)[0].permute(1, 2, 0).numpy()  # (1,3,H,W) -> (H,W,3)


class _Shrinking(Session):
    info = RunInfo("test-shrinking", "cpu")

    def run(self, image, style_weights=None):
        return np.zeros((image.shape[0] - 1, image.shape[1], 3), np.float32)


class _Grey(Session):
    info = RunInfo("test-grey", "cpu")

    def run(self, image, style_weights=None):
        return np.full_like(image, 128.0)


def _runtime(session_class, available=None):
    class _Rt(Runtime):
        name = "test"
        formats = ("onnx",)

        @classmethod
        def availability(cls):
            return available

        def open(self, path, device="auto", **options):
            return session_class()

    return _Rt


@pytest.fixture
def fake(monkeypatch):
    def register(name, session_class, available=None):
        cls = _runtime(session_class, available)
        monkeypatch.setattr(f"{__name__}._Registered_{name.replace('-', '_')}", cls, raising=False)
        monkeypatch.setitem(runtimes._RUNTIMES, name, f"{__name__}:_Registered_{name.replace('-', '_')}")
        return name

    return register


def _check(runtime, inputs, tolerance=None):
    with engine.Reference(NET) as ref:
        return engine.check(
            "x.onnx", "onnx", Precision.FP32, runtime, ref, inputs, engine.style_cases(1),
            tolerance=tolerance or lookup("onnx", Precision.FP32),
        )  # fmt: skip


def _float_input(h=29, w=37, seed=0):
    """A non-integer image: 8-bit rounding changes it (photos fitted by PIL are already integers)."""
    image = np.random.default_rng(seed).uniform(0, 255, size=(h, w, 3)).astype(np.float32)
    return Input(f"noise_{h}x{w}", "noise", image)


def test_reference_gets_the_same_8bit_input_as_the_artifact(fake):
    inp = _float_input()
    result = _check(fake("test-rounding", _RoundingSession), [inp])
    assert result.status == Status.PASSED and result.input_bits == 8, result.summary()
    assert result.psnr > 100  # same input on both sides: only op-order rounding differs
    # Without the rounding on the reference side the same artifact is off by far more than the fp32 row allows.
    with engine.Reference(NET) as ref:
        unrounded = ref.output(inp, "", None, None)
        rounded = ref.output(inp, "", None, 8)
    assert not np.allclose(unrounded, rounded, atol=0.05)


def test_wrong_output_is_a_tolerance_error_with_the_numbers(fake):
    result = _check(fake("test-grey", _Grey), [_float_input(), _float_input(33, 31, 1)])
    assert result.status == Status.FAILED and len(result.failures) == 2
    with pytest.raises(engine.ToleranceError) as info:
        engine.raise_for("x.onnx", result)
    text = str(info.value)
    assert (
        "x.onnx: onnx fp32 does not match the torch reference" in text
        and f"needs PSNR >= {lookup('onnx', Precision.FP32).min_psnr:g} dB" in text
    )
    assert "29x37 noise: max abs" in text and "33x31 noise" in text and "PSNR" in text
    assert info.value.result is result


def test_wrong_shape_is_a_shape_error(fake):
    result = _check(fake("test-shrinking", _Shrinking), [_float_input()])
    assert result.status == Status.FAILED and result.failures[0].shape_mismatch
    with pytest.raises(engine.ShapeMismatchError, match=r"returned the wrong output shape: .*\(28, 37, 3\)"):
        engine.raise_for("x.onnx", result)


def test_unavailable_runtime_is_skipped_and_nothing_verified_is_an_error(fake):
    result = _check(fake("test-away", _Grey, available="needs macOS"), [_float_input()])
    assert result.status == Status.SKIPPED and result.summary() == "SKIPPED: needs macOS" and not result.cases
    engine.raise_for("x.onnx", result)  # a skip is not a failure ...
    error = engine.NothingVerified([result])  # ... and all-skipped is not a pass
    assert error.exit_code == 3 and "needs macOS" in str(error)


def test_status_words_are_the_same_everywhere():
    assert [s.value for s in Status] == ["passed", "failed", "skipped"]
    assert Status.PASSED == "passed" and str(Status.SKIPPED) == "skipped"


def test_no_photos_is_an_error_not_noise():
    with pytest.raises(Exception, match="verification needs photos"):
        engine.load_inputs([], [(32, 32)])


def _net_with(weights: dict) -> torch.nn.Module:
    import copy

    net = copy.deepcopy(NET)
    net.load_state_dict({k: torch.from_numpy(v).float() for k, v in weights.items()})
    return net


def _session_of(net):
    class _S(Session):
        info = RunInfo("test-quantized", "cpu")

        def run(self, image, style_weights=None):
            x = torch.from_numpy(image).permute(2, 0, 1)[None]  # (H,W,3) -> (1,3,H,W)
            with torch.inference_mode():
                return net(x)[0].permute(1, 2, 0).numpy()  # (1,3,H,W) -> (H,W,3)

    return _S


def test_a_weight_quantized_artifact_must_also_match_its_emulation(fake):
    """A uint8 artifact of the right weights passes both conditions; one of 1%-noisy weights passes the
    float row (here a loose one: random stand-ins are more sensitive than trained nets) and is caught by
    the emulated row, with both numbers in the error."""
    from styleport import reference
    from styleport.tolerances import Tolerance
    from styleport.verification.emulate import emulate

    w = reference.weights_of(NET.state_dict())
    rng = np.random.default_rng(0)
    noisy = {k: v + rng.normal(0, 0.01 * float(np.sqrt(np.mean(v * v))), v.shape) for k, v in w.items()}
    emulation = engine.emulation_for("tfjs", Precision.UINT8)
    assert emulation is not None and emulation.scheme == "tfjs:uint8"
    loose = Tolerance("tfjs", Precision.UINT8, 20.0, None, "test: lets 1% noise through")
    results = {}
    for name, weights in (("right", w), ("noisy", noisy)):
        runtime = fake(f"test-{name}", _session_of(_net_with(emulate(weights, "tfjs:uint8"))))
        with engine.Reference(NET) as ref:
            results[name] = engine.check(
                "x", "tfjs", Precision.UINT8, runtime, ref, [_float_input()], engine.style_cases(1),
                tolerance=loose, emulation=emulation,
            )  # fmt: skip
    right, noisy_result = results["right"], results["noisy"]
    assert right.status == Status.PASSED and right.emulated_psnr > 100, right.summary()
    assert "vs emulated: PSNR" in right.summary()
    assert noisy_result.status == Status.FAILED and noisy_result.psnr >= loose.min_psnr  # the float row passes it
    assert noisy_result.emulated_psnr < emulation.tolerance.min_psnr
    with pytest.raises(engine.ToleranceError) as info:
        engine.raise_for("x", noisy_result)
    text = str(info.value)
    assert "and vs the tfjs:uint8 emulation PSNR >= 90 dB, max abs <= 0.02" in text
    assert "; vs emulated: max abs" in text and text.count("PSNR") >= 3


def test_emulation_only_for_declared_weight_quantization():
    assert engine.emulation_for("onnx", Precision.FP16) is None
    assert engine.emulation_for("onnx", Precision.INT8, {}) is None  # scheme not declared: float row only
    # a QDQ file's activation grids come from the file: none readable, no second condition
    assert engine.emulation_for("ort", Precision.INT8, {"int8_scheme": "a16w8-pc"}) is None
    assert engine.emulation_for("onnx", Precision.INT8, {"int8_scheme": "a8w8"}, "missing.onnx") is None
    assert engine.emulation_for("tflite", Precision.INT8).scheme == "tflite:int8"
    tensor = engine.emulation_for("coreml", Precision.INT8, {"io": "tensor"})
    image = engine.emulation_for("coreml", Precision.INT8, {"io": "image"})
    assert tensor.tolerance.variant == "io=tensor" and image.tolerance.variant == ""
