"""The CoreML runtime: interpreter sessions off macOS (labelled so), Apple's MLModel on macOS."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
import torch

from styleport.runtimes import base as runtimes
from styleport.runtimes.base import RuntimeUnavailable
from styleport.runtimes.coreml import INTERPRETER_NOTE, CoreMLRuntime, _style_feed

ct = pytest.importorskip("coremltools")


class _Tint(torch.nn.Module):
    """A tiny image-to-image net: per-channel affine, clamped to 0..255."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("scale", torch.tensor([0.5, 1.0, 1.5]).reshape(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.scale + 10.0).clamp(0.0, 255.0)


@pytest.fixture(scope="module")
def tint_package(tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch 2.13 deprecates jit.trace; coremltools takes it
        traced = torch.jit.trace(_Tint().eval(), torch.rand(1, 3, 8, 8) * 255)
    shape = ct.EnumeratedShapes(shapes=[(1, 3, 8, 8), (1, 3, 5, 7)], default=(1, 3, 8, 8))
    model = ct.convert(
        traced,
        inputs=[ct.ImageType(name="image", shape=shape, color_layout=ct.colorlayout.RGB)],
        outputs=[ct.ImageType(name="stylized", color_layout=ct.colorlayout.RGB)],
        convert_to="mlprogram",
        compute_precision=ct.precision.FLOAT32,
        minimum_deployment_target=ct.target.iOS15,
    )
    path = tmp_path_factory.mktemp("rt") / "tint.mlpackage"
    model.save(str(path))
    return path


def test_registered_and_available():
    runtime = runtimes.get("coreml")
    assert isinstance(runtime, CoreMLRuntime) and runtime.formats == ("coreml",)
    assert runtime.availability() is None


@pytest.mark.skipif(sys.platform == "darwin", reason="the interpreter session is the non-macOS path")
def test_interpreter_session_is_labelled_and_rounds_to_8_bit_pixels(tint_package):
    session = CoreMLRuntime().open(tint_package)
    assert session.info.device == "linux-interpreter" and session.info.notes == INTERPRETER_NOTE
    assert "fp32" in session.info.provider
    image = np.random.default_rng(0).uniform(0, 255, size=(5, 7, 3)).astype(np.float32)
    out = session.run(image)
    pixels = np.rint(image)  # what an 8-bit pixel buffer holds
    want = np.clip(np.rint(pixels * np.array([0.5, 1.0, 1.5]) + 10.0), 0, 255)
    assert out.dtype == np.float32 and out.shape == (5, 7, 3)
    np.testing.assert_array_equal(out, want)


@pytest.mark.skipif(sys.platform == "darwin", reason="on macOS every CoreML device exists")
def test_apple_devices_are_unavailable_off_macos(tint_package):
    with pytest.raises(RuntimeUnavailable, match="needs macOS"):
        CoreMLRuntime().open(tint_package, device="ane")


def test_style_weights_default_to_style_zero():
    np.testing.assert_array_equal(_style_feed(None, 3), [[1.0, 0.0, 0.0]])
    np.testing.assert_allclose(_style_feed(np.array([0.2, 0.8]), 2), [[0.2, 0.8]])
    with pytest.raises(ValueError, match="3 entries"):
        _style_feed(np.array([1.0, 0.0]), 3)


@pytest.mark.macos
@pytest.mark.skipif(sys.platform != "darwin", reason="Apple's CoreML runtime exists only on macOS")
def test_apple_runtime_agrees_with_the_interpreter(tint_package):  # pragma: no cover - macOS only
    image = np.random.default_rng(1).uniform(0, 255, size=(5, 7, 3)).astype(np.float32)
    apple = CoreMLRuntime().open(tint_package, device="cpu")
    interpreted = CoreMLRuntime().open(tint_package, interpreter=True)
    assert apple.info.provider == "MLModel.predict"
    assert np.abs(apple.run(image) - interpreted.run(image)).max() <= 1.0  # 8-bit output rounding
