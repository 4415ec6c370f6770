"""ONNX export of tiny networks at fp32 / fp16 / int8, verified in ONNX Runtime at two other sizes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from styleport import checkpoints
from styleport.export import pipeline
from styleport.precision import Precision
from styleport.verification import provenance

SIZES = ((48, 40), (37, 53))  # neither is the 64x64 trace size; 37x53 is not a multiple of 4
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def export(checkpoint_path, out_dir, precisions, options=None, calibration=()):
    ckpt = checkpoints.load(checkpoint_path)
    jobs = pipeline.plan(ckpt, ["onnx"], out_dir, precisions, calibration=calibration, options=options)
    return pipeline.run(ckpt, jobs, verify_sizes=SIZES)


def test_fp32_and_fp16_single_style(tiny_checkpoint, tmp_path):
    results = export(tiny_checkpoint, tmp_path, [Precision.FP32, Precision.FP16])
    fp32, fp16 = results
    for r in results:
        assert r.verification.status == "passed", r.summary()
        assert {c.size for c in r.verification.cases} == set(SIZES)
        assert r.artifact.path.exists() and r.artifact.size_bytes == r.artifact.path.stat().st_size
    assert fp32.verification.max_abs < 0.01 and fp32.verification.min_psnr > 100
    assert fp16.verification.min_psnr > 50
    assert fp16.artifact.size_bytes < 0.6 * fp32.artifact.size_bytes  # fp16 weights
    assert fp16.artifact.details["fp16_rescaled"] == {}  # this net fits fp16 as is
    records = [provenance.sidecar(r.artifact.path) for r in results]  # each artifact with its provenance record
    assert sorted(tmp_path.iterdir()) == sorted([fp32.artifact.path, fp16.artifact.path, *records])  # no temp files

    model = onnx.load(str(fp32.artifact.path))
    assert [i.name for i in model.graph.input] == ["image"]
    assert [o.name for o in model.graph.output] == ["stylized"]
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims[:2] == [1, 3] and all(isinstance(d, str) for d in dims[2:])  # dynamic H, W
    meta = {p.key: p.value for p in model.metadata_props}
    assert json.loads(meta["styleport.style_names"]) == ["tiny"]
    assert meta["license"] == "CC0" and meta["styleport.precision"] == "fp32" and "0..255" in meta["styleport.io"]
    half = onnx.load(str(fp16.artifact.path))
    assert half.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # float32 I/O kept
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in half.graph.initializer)


def test_int8_auto_picks_scheme_by_measured_psnr(tiny_checkpoint, tmp_path, photos):
    (result,) = export(tiny_checkpoint, tmp_path, [Precision.INT8], calibration=photos[:3])
    details = result.artifact.details
    candidates = details["int8_candidates_psnr_db"]
    assert len(candidates) == 8 and details["int8_scheme"] in candidates
    best = max(candidates.values())
    assert candidates[details["int8_scheme"]] >= best - 0.5
    assert "3 photos" in details["int8_calibration"]
    assert result.verification.status == "passed" and result.verification.psnr > 35
    model = onnx.load(str(result.artifact.path))
    assert any(n.op_type == "QuantizeLinear" for n in model.graph.node)
    assert {o.domain for o in model.opset_import} <= {"", "ai.onnx"}  # no stray optimizer domains
    assert details["opset"] == (21 if details["int8_scheme"].startswith("a16") else 18)


def test_two_style_network_fp32_int8(two_style_checkpoint, tmp_path):
    results = export(
        two_style_checkpoint, tmp_path, [Precision.FP32, Precision.INT8], {"onnx": {"int8_scheme": "a16w8"}}
    )
    for r in results:
        assert r.verification.status == "passed", r.summary()
        assert {c.style for c in r.verification.cases} == {"style 0", "style 1", "mix"}
    assert results[1].artifact.details["int8_scheme"] == "a16w8"
    model = onnx.load(str(results[0].artifact.path))
    assert [i.name for i in model.graph.input] == ["image", "style_weights"]
    # the two styles really differ (the style input is wired through)
    from styleport.runtimes.onnxruntime import OnnxRuntime

    img = np.random.default_rng(0).uniform(0, 255, (40, 44, 3)).astype(np.float32)
    with OnnxRuntime().open(results[0].artifact.path, device="cpu") as session:
        a, b = session.run(img, np.array([1, 0], np.float32)), session.run(img, np.array([0, 1], np.float32))
    assert a.shape == (40, 44, 3) and np.abs(a - b).mean() > 1.0


def test_int8_a8w8_pc_enc_keeps_encoder_float_and_fuses_the_rest(tiny_checkpoint, tmp_path):
    """The fast scheme: FLOAT_ENCODER convs stay float, every other conv becomes an integer QLinearConv
    in ONNX Runtime (8-bit activations on both sides); verified against the a8 float row and the
    checkpoint re-quantized with the file's grids (tests/verification/test_requantize.py)."""
    import onnxruntime as ort

    from styleport.tolerances import variant_of
    from styleport.verification.references import emulation_for

    (result,) = export(tiny_checkpoint, tmp_path, [Precision.INT8], {"onnx": {"int8_scheme": "a8w8-pc-enc"}})
    details = result.artifact.details
    assert details["int8_scheme"] == "a8w8-pc-enc" and list(details["int8_candidates_psnr_db"]) == ["a8w8-pc-enc"]
    assert result.verification.status == "passed", result.summary()
    assert variant_of("onnx", Precision.INT8, details) == "a8"
    emulation = emulation_for("onnx", Precision.INT8, details, result.artifact.path)  # re-quantized reference
    graph = onnx.load(str(result.artifact.path)).graph
    weights = {i.name for i in graph.initializer}
    activations = {n.input[0] for n in graph.node if n.op_type == "QuantizeLinear"} - weights
    assert emulation is not None and {name for name, _, _ in emulation.requantize} == activations
    assert result.verification.emulated_max_abs == 0  # the right file: bit for bit
    float_convs = {n.input[1].split(".conv2d.weight")[0] for n in graph.node if n.op_type == "Conv"}
    assert {c for c in float_convs if f"{c}.conv2d.weight" in weights} == {
        "conv1",
        "conv2",
        "conv3",
        "res1.conv1",
        "deconv3",
    }
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(str(result.artifact.path), options, providers=["CPUExecutionProvider"])
    ops = [n.op_type for n in onnx.load(options.optimized_model_filepath).graph.node]
    assert ops.count("QLinearConv") + ops.count("NhwcQLinearConv") == 11  # 16 convs, 5 kept float


def _last_conv_kernel(model) -> tuple[int, list[int]]:
    """(output channels, kernel shape) of the graph's last Conv."""
    weights = {t.name: list(t.dims) for t in model.graph.initializer}
    last = [n for n in model.graph.node if n.op_type == "Conv"][-1]
    dims = weights[last.input[1]]
    return dims[0], dims[2:]


def test_float_exports_carry_the_space_to_depth_output_conv_and_int8_the_plain_one(tiny_checkpoint, tmp_path, photos):
    """fp32 / fp16: the last 9x9 conv as space-to-depth + 5x5 conv to 12 channels + DepthToSpace (exact,
    styleport.subpixel.PhaseOutputConv); int8 keeps the 9x9 conv its emulation quantizes."""
    fp32, fp16 = export(tiny_checkpoint, tmp_path / "float", [Precision.FP32, Precision.FP16])
    for r in (fp32, fp16):
        model = onnx.load(str(r.artifact.path))
        assert _last_conv_kernel(model) == (12, [5, 5]), r.artifact.path
    (int8,) = export(
        tiny_checkpoint, tmp_path / "int8", [Precision.INT8], {"onnx": {"int8_scheme": "a16w8"}}, calibration=photos[:3]
    )
    assert int8.verification.status == "passed", int8.summary()
    weights = {t.name: list(t.dims) for t in onnx.load(str(int8.artifact.path)).graph.initializer}
    assert any(d[:1] == [3] and d[2:] == [9, 9] for d in weights.values())  # the plain 3-output 9x9 conv
