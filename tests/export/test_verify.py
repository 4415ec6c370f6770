"""Verification outcomes: ok / failed with numbers / SKIPPED with the reason, never a false ok."""

from __future__ import annotations

import re

import numpy as np
import pytest

from styleport.errors import StyleportError
from styleport.export.verify import ParityError, style_cases, verify_artifact
from styleport.precision import Precision
from styleport.runtimes import base as runtimes
from styleport.runtimes.base import RunInfo, Runtime, Session
from styleport.tolerances import lookup


class _Unavailable(Runtime):
    name = "test-unavailable"
    formats = ("onnx",)

    @classmethod
    def availability(cls):
        return "not verified on this OS (needs macOS)"

    def open(self, path, device="auto", **options):
        raise AssertionError("an unavailable runtime must not be opened")


class _Grey(Session):
    info = RunInfo("test-grey", "cpu")

    def run(self, image, style_weights=None):
        return np.full_like(image, 128.0)


class _GreyRuntime(Runtime):
    name = "test-grey"
    formats = ("onnx",)

    @classmethod
    def availability(cls):
        return None

    def open(self, path, device="auto", **options):
        return _Grey()


@pytest.fixture
def fake_runtimes(monkeypatch):
    monkeypatch.setitem(runtimes._RUNTIMES, "test-unavailable", f"{__name__}:_Unavailable")
    monkeypatch.setitem(runtimes._RUNTIMES, "test-grey", f"{__name__}:_GreyRuntime")


def test_unavailable_runtime_is_skipped_not_ok(fake_runtimes, make_net, tmp_path):
    v = verify_artifact(tmp_path / "x.onnx", "onnx", Precision.FP32, make_net(1), "test-unavailable")
    assert v.status == "skipped" and v.cases == ()
    assert v.summary() == "SKIPPED: not verified on this OS (needs macOS)"


def test_wrong_output_raises_with_every_case(fake_runtimes, make_net, tmp_path):
    with pytest.raises(ParityError) as info:
        verify_artifact(
            tmp_path / "x.onnx", "onnx", Precision.FP32, make_net(2), "test-grey", sizes=((20, 24), (17, 19))
        )
    v = info.value.verification
    assert v.status == "failed" and len(v.failures) == 9  # (2 sizes + the dark frame) x (style 0, style 1, mix)
    text = str(info.value)
    bound = f"needs PSNR >= {lookup('onnx', Precision.FP32).min_psnr:g}"
    assert "x.onnx" in text and "PSNR" in text and bound in text
    assert re.search(r"17x19 \w+ mix: max abs [\d.]+, mean abs [\d.]+, PSNR [\d.]+ dB", text)


def test_missing_tolerance_row_is_an_error(fake_runtimes, make_net, tmp_path):
    with pytest.raises(StyleportError, match="no parity tolerance defined for onnx palette4"):
        verify_artifact(tmp_path / "x.onnx", "onnx", Precision.PALETTE4, make_net(1), "test-grey")


def test_style_cases():
    assert style_cases(1) == [("", None)]
    labels = [label for label, _ in style_cases(3)]
    assert labels == ["style 0", "style 2", "mix"]
