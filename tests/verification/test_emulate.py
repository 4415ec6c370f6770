"""Quantization-emulated weights (styleport/verification/emulate.py) are the grids the converters use.

Checked against the converters' own quantizers where they load quickly (onnxruntime's
``quantize_data``, tensorflowjs' ``quantization`` module loaded on its own without TensorFlow); the
end-to-end proof (a right artifact sits at its compute error from the emulation, a faulty one far
away) is the fault table (tests/test_faults.py, bench/fault_catch.py).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from styleport.precision import Precision
from styleport.verification import emulate

P = Precision


def _weights(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    w = {}
    for name, shape in (("conv1", (8, 3, 9, 9)), ("conv2", (16, 8, 3, 3)), ("deconv3", (3, 8, 9, 9))):
        w[f"{name}.conv2d.weight"] = rng.normal(0, 0.05, shape) * rng.uniform(0.2, 2, (shape[0], 1, 1, 1))
        w[f"{name}.conv2d.bias"] = rng.normal(0, 0.1, shape[0])
    w["in1.weight"], w["in1.bias"] = rng.normal(1, 0.1, 8), rng.normal(0, 0.1, 8)
    return w


def test_the_scheme_is_what_the_artifact_declares():
    assert emulate.scheme_of("onnx", P.INT8, {"int8_scheme": "a16w8-pc"}) == "onnx:a16w8-pc"
    assert emulate.scheme_of("ort", P.INT8, {"int8_scheme": "a16w8"}) == "onnx:a16w8"
    assert emulate.scheme_of("onnx", P.INT8, {"int8_scheme": "a8w8"}) == "onnx:a8w8"  # re-quantized (test_requantize)
    assert emulate.scheme_of("onnx", P.INT8, {}) is None  # scheme unknown: nothing to emulate
    assert emulate.scheme_of("onnx", P.FP16, {}) is None
    assert emulate.scheme_of("tfjs", P.UINT8, None) == "tfjs:uint8"
    assert emulate.scheme_of("coreml", P.PALETTE4, {}) == "coreml:palette4"  # tables read from the file
    with pytest.raises(ValueError, match="unknown quantization scheme"):
        emulate.emulate(_weights(), "onnx16:x")


@pytest.mark.parametrize("per_channel", [False, True])
def test_symmetric_int8_matches_onnxruntime(per_channel):
    quant_utils = pytest.importorskip("onnxruntime.quantization.quant_utils")
    from onnx import TensorProto

    w = _weights()
    out = emulate.emulate(w, "onnx:a16w8" + ("-pc" if per_channel else ""))
    for name in ("conv1", "conv2", "deconv3"):
        v = w[f"{name}.conv2d.weight"].astype(np.float32)
        chunks = list(v) if per_channel else [v]  # ORT quantizes each output channel on its own when per channel
        want = []
        for chunk in chunks:
            zero, scale, q = quant_utils.quantize_data(chunk.ravel(), TensorProto.INT8, symmetric=True)
            want.append((q.astype(np.float64) - float(zero)) * float(scale))
        np.testing.assert_allclose(out[f"{name}.conv2d.weight"].ravel(), np.concatenate(want), rtol=0, atol=1e-7)
        assert np.array_equal(out[f"{name}.conv2d.bias"], w[f"{name}.conv2d.bias"])  # biases are not emulated
    assert np.array_equal(out["in1.weight"], w["in1.weight"])


def test_skip_ends_keeps_the_first_and_last_conv_float_and_tflite_coreml_are_per_channel():
    w = _weights()
    skip = emulate.emulate(w, "onnx:a16w8-skip")
    assert np.array_equal(skip["conv1.conv2d.weight"], w["conv1.conv2d.weight"])
    assert np.array_equal(skip["deconv3.conv2d.weight"], w["deconv3.conv2d.weight"])
    assert not np.array_equal(skip["conv2.conv2d.weight"], w["conv2.conv2d.weight"])
    for scheme, dtype in (("tflite:int8", np.float64), ("coreml:int8", np.float16)):  # CoreML: fp16 weights, scale
        q = emulate.emulate(w, scheme)["conv2.conv2d.weight"]
        v = w["conv2.conv2d.weight"].astype(dtype).astype(np.float64)
        step = (np.abs(v).reshape(16, -1).max(axis=1) / 127).astype(dtype).astype(np.float64)  # (Co,)
        k = q.reshape(16, -1) / step[:, None]
        assert np.abs(k - np.round(k)).max() < 2e-3 and np.abs(k).max() <= 127.01, scheme  # on each channel's grid
        assert len(np.unique(np.round(k))) > 100  # and actually 8-bit, not coarser


def test_tfjs_uint8_matches_tensorflowjs():
    spec = importlib.util.find_spec("tensorflowjs")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("tensorflowjs is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "quantization.py"
    module_spec = importlib.util.spec_from_file_location("_tfjs_quantization", path)  # numpy only, no TensorFlow
    tfjs = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(tfjs)
    w = _weights()
    out = emulate.emulate(w, "tfjs:uint8")
    for name, v in w.items():
        q, meta = tfjs.quantize_weights(v.astype(np.float32), np.uint8)
        want = tfjs.dequantize_weights(q, meta, np.float32)
        np.testing.assert_allclose(out[name], want, rtol=0, atol=1e-6, err_msg=name)
    assert not np.array_equal(out["in1.weight"], w["in1.weight"])  # every float tensor, norms included


def _qdq_conv_file(path, x_scale: float, y_scale: float) -> None:
    """A one-conv QDQ graph as ORT's quantizer writes it: DQ(Q(x)) -> Conv(weights named by layer) -> Q -> DQ."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    inits = [
        numpy_helper.from_array(np.zeros((8, 3, 9, 9), np.float32), "conv1.conv2d.weight"),
        numpy_helper.from_array(np.array(x_scale, np.float32), "x_scale"),
        numpy_helper.from_array(np.array(0, np.uint16), "x_zero_point"),
        numpy_helper.from_array(np.array(y_scale, np.float32), "y_scale"),
        numpy_helper.from_array(np.array(128, np.uint8), "y_zero_point"),
    ]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zero_point"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "x_scale", "x_zero_point"], ["xd"]),
        helper.make_node("Conv", ["xd", "conv1.conv2d.weight"], ["y"]),
        helper.make_node("QuantizeLinear", ["y", "y_scale", "y_zero_point"], ["yq"]),
        helper.make_node("DequantizeLinear", ["yq", "y_scale", "y_zero_point"], ["out"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 9, 9])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 8, 1, 1])],
        inits,
    )
    onnx.save(helper.make_model(graph), str(path))


def test_activation_grids_are_read_from_a_qdq_file_and_applied_around_the_conv(tmp_path):
    import torch

    from tests.conftest import make_net, random_image, torch_run

    path = tmp_path / "qdq.onnx"
    _qdq_conv_file(path, 0.5, 0.25)
    grids = emulate.onnx_activation_grids(path)
    assert grids == (("conv1", emulate.Grid(0.5, 0, 0, 65535), emulate.Grid(0.25, 128, 0, 255)),)
    net = make_net()
    image = random_image(24, 20)
    plain = torch_run(emulate.emulated_model(net, "onnx:a16w8", ()), image)
    coarse = torch_run(emulate.emulated_model(net, "onnx:a16w8", grids), image)
    assert np.abs(plain - coarse).max() > 1.0  # the 8-bit output grid of conv1 shows
    y = torch.linspace(-40, 40, 101)
    assert torch.equal(emulate._fake(y, grids[0][2]), torch.clamp(torch.round(y / 0.25), -128, 127) * 0.25)


def test_palette_snapping_uses_the_nearest_entry_of_each_conv_table():
    w = _weights()
    tables = tuple(
        (k.removesuffix(".conv2d.weight"), tuple(np.linspace(-0.2, 0.2, 64))) for k in w if "conv2d.weight" in k
    )
    out = emulate.emulate(w, "coreml:palette6", tables)
    grid = np.linspace(-0.2, 0.2, 64)
    for k in (k for k in w if k.endswith("conv2d.weight")):
        v = w[k].astype(np.float16).astype(np.float64)
        want = grid[np.abs(v[..., None] - grid).argmin(axis=-1)]
        np.testing.assert_array_equal(out[k], want, err_msg=k)
    assert np.array_equal(out["in1.weight"], w["in1.weight"])  # convs only
    with pytest.raises(ValueError, match="no palette for conv 'deconv3'"):
        emulate.emulate(w, "coreml:palette6", tables[:2])
    with pytest.raises(ValueError, match="64 palette entries"):
        emulate.emulate(w, "coreml:palette4", tables)


def test_palette_emulation_matches_coremltools_and_exposes_a_noisy_network(tmp_path):
    """The file's k-means tables + the checkpoint's own weights reproduce coremltools' assignment (the file's
    indices, never read by the emulation); a network palettized after 1% weight noise lands far away."""
    pytest.importorskip("coremltools")
    import copy

    import torch

    from styleport import checkpoints, faults, reference
    from styleport.export import base as exporters
    from styleport.export.base import ExportRequest
    from styleport.export.calibration import images_at
    from styleport.export.pipeline import Job, export_one
    from styleport.metrics import psnr
    from styleport.runtimes import base as runtimes
    from styleport.runtimes.mil.program import Program
    from styleport.tolerances import emulated_row

    root = Path(__file__).resolve().parents[2]
    ckpt = checkpoints.load(root / "styleport" / "data" / "models" / "great_wave.pth")
    model = ckpt.build().eval()
    w = reference.weights_of(model.state_dict())
    image = np.rint(images_at([root / "tests" / "fixtures" / "photos" / "petra.jpg"], [(48, 64)])[0]).astype(np.float32)
    noisy = copy.deepcopy(model)
    noisy.load_state_dict(
        {k: torch.from_numpy(v).float() for k, v in faults.by_name("noise 1%").weights(w, None).items()}
    )
    row = emulated_row("coreml", P.PALETTE6, "io=tensor")
    got = {}
    for name, net in (("right", model), ("noisy", noisy)):
        path = tmp_path / f"{name}.mlpackage"
        request = ExportRequest("coreml", P.PALETTE6, ((48, 64),), (), {"io": "tensor"})
        export_one(net, ckpt, Job(exporters.get("coreml"), request, path), False, ())
        tables = emulate.coreml_palettes(path)
        assert len(tables) == 16 and all(len(t) <= 64 for _, t in tables)
        ew = emulate.emulate(w, "coreml:palette6", tables)
        stored = {
            k.removeprefix("model_").split("_conv2d")[0]: v
            for k, v in Program(path).constants.items()
            if k.endswith("_palettized")
        }
        same = np.mean(
            np.concatenate(
                [
                    ew[k].ravel()
                    == stored[k.removesuffix(".conv2d.weight").replace(".", "_")].astype(np.float64).ravel()
                    for k in ew
                    if k.endswith(".conv2d.weight")
                ]
            )
        )
        with runtimes.get("coreml").open(path) as session:
            out = session.run(image, None)
        emulated = emulate.emulated_model(model, "coreml:palette6", (), tables)
        with torch.no_grad():
            want = (
                emulated(torch.from_numpy(image.transpose(2, 0, 1)[None].copy()))[0].permute(1, 2, 0).double().numpy()
            )
        got[name] = (same, psnr(want, out), psnr(reference.forward(w, image.astype(np.float64)), out))
    (same, emu, flt), (bad_same, bad_emu, bad_flt) = got["right"], got["noisy"]
    assert same > 0.998 and bad_same < 0.95, got  # measured: 0.9994 vs 0.903
    assert emu >= row.min_psnr > bad_emu, got  # measured: 72.2 dB vs 49.5
    assert emu > flt + 10 and abs(bad_flt - bad_emu) < 3, got  # the float row could not tell them apart
