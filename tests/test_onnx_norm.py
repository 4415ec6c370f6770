"""styleport.onnx_norm: instance norm with two-stage statistics, against float64 and ORT's own op."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from styleport.onnx_norm import two_stage_instance_norms  # noqa: E402

C, H, W = 2, 1080, 1920  # a full-HD map: where one fp32 sum over H*W loses digits


def graph(opset: int, scale: np.ndarray, bias: np.ndarray):
    inits = [numpy_helper.from_array(scale, "scale"), numpy_helper.from_array(bias, "bias")]
    nodes = [
        helper.make_node("InstanceNormalization", ["x", "scale", "bias"], ["n"], name="in1", epsilon=1e-5),
        helper.make_node("Relu", ["n"], ["y"]),  # a consumer: the rewritten node must keep its output name
    ]
    g = helper.make_graph(
        nodes,
        "t",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, C, "H", "W"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, C, "H", "W"])],
        inits,
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def run(proto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


@pytest.mark.parametrize("opset", [17, 18])
def test_two_stage_statistics_match_float64_where_orts_op_does_not(opset):
    rng = np.random.default_rng(0)
    # a channel with a horizontal ramp and a shifted one (like conv1's output on a sky photo)
    x = rng.standard_normal((1, C, H, W)) * 1.5 - 0.3 + np.linspace(0.0, 3.0, W)
    x[:, 1] = x[:, 1] * 40.0 - 70.0
    x = x.astype(np.float32)
    scale, bias = np.array([0.7, 1.9], np.float32), np.array([0.25, -1.5], np.float32)
    x64 = x.astype(np.float64)
    mean, var = x64.mean((2, 3), keepdims=True), x64.var((2, 3), keepdims=True)
    want = np.maximum((x64 - mean) / np.sqrt(var + 1e-5) * scale.reshape(1, C, 1, 1) + bias.reshape(1, C, 1, 1), 0)

    plain = float(np.abs(run(graph(opset, scale, bias), x) - want).max())
    rewritten_proto = two_stage_instance_norms(graph(opset, scale, bias))
    assert not any(n.op_type == "InstanceNormalization" for n in rewritten_proto.graph.node)
    onnx.checker.check_model(rewritten_proto)
    rewritten = float(np.abs(run(rewritten_proto, x) - want).max())
    # measured (AVX2 EPYC): ORT's op 3.0e-4 from float64 (this bound fails it), the rewrite 6.9e-7
    assert rewritten < 1e-5, f"two-stage statistics: max abs {rewritten:.3g} from float64"
    assert plain > 3e-5, f"ORT's InstanceNormalization is now accurate here ({plain:.3g}): the rewrite may be moot"
