"""ONNX Runtime sessions: provider selection, fallback reporting, clear errors on bad files."""

from __future__ import annotations

import numpy as np
import pytest

from styleport.errors import StyleportError
from styleport.runtimes.base import RuntimeUnavailable

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

from styleport.runtimes.onnxruntime import OnnxRuntime  # noqa: E402


@pytest.fixture(scope="module")
def identity_model(tmp_path_factory):
    """A two-node graph with the styleport I/O contract: stylized = clip(image * 0.5 + 10)."""
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "height", "width"])
    out = helper.make_tensor_value_info("stylized", TensorProto.FLOAT, [1, 3, "height", "width"])
    nodes = [
        helper.make_node("Mul", ["image", "half"], ["m"]),
        helper.make_node("Add", ["m", "ten"], ["stylized"]),
    ]
    inits = [
        helper.make_tensor("half", TensorProto.FLOAT, [], [0.5]),
        helper.make_tensor("ten", TensorProto.FLOAT, [], [10.0]),
    ]
    graph = helper.make_graph(nodes, "g", [image], [out], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    path = tmp_path_factory.mktemp("ort") / "m.onnx"
    onnx.save(model, str(path))
    return path


def test_runs_hwc_in_hwc_out(identity_model):
    img = np.random.default_rng(0).uniform(0, 255, (7, 9, 3)).astype(np.float32)
    with OnnxRuntime().open(identity_model, device="cpu", threads=1) as session:
        out = session.run(img)
        assert session.info.provider == "CPUExecutionProvider" and session.info.threads == 1
        assert session.info.notes == ""
    np.testing.assert_allclose(out, img * 0.5 + 10, rtol=1e-6)


def test_missing_provider_is_unavailable_not_silent(identity_model):
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this build has CUDA")
    with pytest.raises(RuntimeUnavailable, match="no CUDAExecutionProvider"):
        OnnxRuntime().open(identity_model, device="cuda")


def test_fallback_is_reported(identity_model, monkeypatch):
    """Simulate onnxruntime-gpu without CUDA libraries: the session quietly runs on CPU."""
    real = ort.InferenceSession

    class FallingBack(real):
        def get_providers(self):
            return ["CPUExecutionProvider"]

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(ort, "InferenceSession", lambda path, sess_options, providers: FallingBack(path, sess_options))
    with OnnxRuntime().open(identity_model, device="cuda") as session:
        assert "requested CUDAExecutionProvider, fell back to CPUExecutionProvider" in session.info.notes
        assert session.info.device == "cpu"
    with pytest.raises(RuntimeUnavailable, match="fell back"):
        OnnxRuntime().open(identity_model, device="cuda", strict=True)


def test_corrupt_file_is_one_line_error(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(StyleportError, match="bad.onnx: onnxruntime cannot load this model"):
        OnnxRuntime().open(bad, device="cpu")
