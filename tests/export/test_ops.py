"""Unsupported operators give one line naming the op and the format."""

from __future__ import annotations

import pytest
import torch

from styleport.export.ops import UnsupportedOpError, conversion_error, find_op


def test_find_op_in_converter_messages():
    assert find_op("No ONNX function found for <OpOverload(op='aten._linalg_eigh', overload='default')>") == (
        "aten._linalg_eigh"
    )
    assert (
        find_op("Error when translating node %h : call_function[target=torch.ops.aten.histc.default]") == "aten.histc"
    )
    assert find_op("tflite: Unsupported op: Erfinv") == "Erfinv"
    assert find_op("something else broke") is None


def test_unknown_failure_is_still_one_line():
    err = conversion_error("tflite", RuntimeError("disk full\nmore detail"))
    assert not isinstance(err, UnsupportedOpError) and str(err) == "tflite export failed: disk full"


@pytest.mark.slow
def test_real_onnx_export_of_an_unsupported_op_names_it(make_net):
    pytest.importorskip("onnxscript")
    from styleport.export.onnx import torch_to_onnx

    net = make_net(1)

    class WithEigh(type(net)):
        def forward(self, x, style_weights=None):
            y = super().forward(x, style_weights)
            m = y[0, 0, :4, :4]
            return y + torch.linalg.eigvalsh(m @ m.T).sum()

    bad = WithEigh(net.config).eval()
    with pytest.raises(UnsupportedOpError, match=r"onnx export: operator 'aten\._linalg_eigh' is not supported"):
        torch_to_onnx(bad)
