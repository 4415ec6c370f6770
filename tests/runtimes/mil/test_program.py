"""Loading and executing saved ML Programs: weight blobs, fp16 rounding, unknown ops, corrupt packages,
and CoreML's image I/O semantics."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from styleport.runtimes.mil import Interpreter, MILError, UnsupportedOpError
from styleport.runtimes.mil.features import Feature, image_to_tensor, tensor_to_image
from styleport.runtimes.mil.program import Program
from styleport.runtimes.mil.values import BlobFile

ct = pytest.importorskip("coremltools")
from coremltools.converters.mil import Builder as mb  # noqa: E402

RNG = np.random.default_rng(5)
WEIGHT = RNG.standard_normal((4, 3, 3, 3)).astype(np.float32)
GAMMA = RNG.standard_normal(4).astype(np.float32)


def save_program(prog, path, precision):
    model = ct.convert(
        prog, convert_to="mlprogram", compute_precision=precision, minimum_deployment_target=ct.target.iOS15
    )
    model.save(str(path))
    return path


@pytest.fixture(scope="module")
def conv_packages(tmp_path_factory):
    """conv(same) -> instance_norm -> relu -> mul 3.3, saved at fp32 and fp16 compute."""

    @mb.program(input_specs=[mb.TensorSpec(shape=(1, 3, 10, 9))], opset_version=ct.target.iOS15)
    def prog(x):
        y = mb.conv(x=x, weight=WEIGHT, pad_type="same")
        y = mb.instance_norm(x=y, gamma=GAMMA, beta=np.zeros(4, np.float32), epsilon=1e-5)
        return mb.mul(x=mb.relu(x=y), y=np.float32(3.3))

    folder = tmp_path_factory.mktemp("mil")
    return {
        "fp32": save_program(prog, folder / "fp32.mlpackage", ct.precision.FLOAT32),
        "fp16": save_program(prog, folder / "fp16.mlpackage", ct.precision.FLOAT16),
    }


def torch_reference(x: np.ndarray) -> np.ndarray:
    y = F.conv2d(F.pad(torch.from_numpy(x), (1, 1, 1, 1)), torch.from_numpy(WEIGHT))
    y = F.instance_norm(y, weight=torch.from_numpy(GAMMA), eps=1e-5)
    return (F.relu(y) * 3.3).numpy()


def test_fp32_program_matches_torch(conv_packages):
    program = Program(conv_packages["fp32"])
    assert program.op_types() == ["conv", "instance_norm", "mul", "relu"] and not program.is_fp16
    x = RNG.uniform(0, 255, size=(1, 3, 10, 9)).astype(np.float32)
    (out,) = program.run({program.inputs[0].name: x}).values()
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, torch_reference(x), atol=1e-4)


def test_fp16_program_stores_every_intermediate_in_fp16(conv_packages):
    program = Program(conv_packages["fp16"])
    assert program.is_fp16 and "cast" in program.op_types()
    x = RNG.uniform(0, 255, size=(1, 3, 10, 9)).astype(np.float32)
    (out,) = program.run({program.inputs[0].name: x}).values()
    want = torch_reference(x)
    err = np.abs(out - want).max()
    assert 0 < err < 0.02 * np.abs(want).max()  # fp16 rounding: not exact, but close
    # The emulation itself, by hand: fp16 input, fp16 weights, each op's result rounded to fp16.
    h = lambda a: np.asarray(a, np.float32).astype(np.float16).astype(np.float32)  # noqa: E731
    y = F.conv2d(F.pad(torch.from_numpy(h(x)), (1, 1, 1, 1)), torch.from_numpy(h(WEIGHT))).numpy()
    y = h(F.instance_norm(torch.from_numpy(h(y)), weight=torch.from_numpy(h(GAMMA)), eps=float(h(1e-5))).numpy())
    y = h(h(np.maximum(y, 0)) * h(3.3))
    np.testing.assert_allclose(out, y, atol=0.02)


def test_inputs_are_validated(conv_packages):
    program = Program(conv_packages["fp32"])
    name = program.inputs[0].name
    with pytest.raises(MILError, match="inputs must be exactly"):
        program.run({"other": np.zeros((1, 3, 10, 9), np.float32)})
    with pytest.raises(MILError, match="expects"):
        program.run({name: np.zeros((1, 3, 11, 9), np.float32)})


def test_unknown_op_in_a_saved_package_lists_supported_ops(tmp_path):
    @mb.program(input_specs=[mb.TensorSpec(shape=(2, 3))], opset_version=ct.target.iOS15)
    def prog(x):
        return mb.sin(x=x)

    path = save_program(prog, tmp_path / "sin.mlpackage", ct.precision.FLOAT32)
    with pytest.raises(UnsupportedOpError, match=r"'sin' is not supported.*conv.*instance_norm"):
        Interpreter(path)


def test_corrupt_packages_give_clear_errors(conv_packages, tmp_path):
    broken = tmp_path / "broken.mlpackage"
    shutil.copytree(conv_packages["fp32"], broken)
    weights = next(broken.rglob("weight.bin"))
    weights.write_bytes(weights.read_bytes()[:100])  # truncated
    with pytest.raises(MILError, match="weight.bin"):
        Program(broken)
    (broken / "Manifest.json").unlink()
    with pytest.raises(MILError, match="no Manifest.json"):
        Program(broken)
    spec = tmp_path / "garbage.mlmodel"
    spec.write_bytes(b"\x08\x01garbage-not-protobuf\xff\xff")
    with pytest.raises(MILError, match="corrupt model spec|not an ML Program"):
        Program(spec)


@pytest.mark.parametrize(
    ("dtype_number", "values", "writer"),
    [
        (10, np.array([0.5, -2.0, 65504.0], np.float16), "write_fp16_data"),
        (11, np.array([1.5, -3.25, 7.0, 0.1], np.float32), "write_float_data"),
        (21, np.array([-128, 0, 127], np.int8), "write_int8_data"),
        (31, np.array([0, 200, 255], np.uint8), "write_uint8_data"),
        (38, np.array([1, 63, 3, 0, 5, 42, 17], np.uint8), "write_uint6_data"),
        (35, np.array([15, 0, 7, 9, 1], np.uint8), "write_uint4_data"),
        (25, np.array([-8, 7, -1, 0, 3], np.int8), "write_int4_data"),
    ],
)
def test_blob_reader_reads_what_coremltools_writes(tmp_path, dtype_number, values, writer):
    from coremltools.libmilstoragepython import _BlobStorageWriter

    path = tmp_path / "weight.bin"
    blob_writer = _BlobStorageWriter(str(path))
    payload = values.view(np.uint16) if values.dtype == np.float16 else values
    offset = getattr(blob_writer, writer)(np.ascontiguousarray(payload))
    del blob_writer  # flushes the file
    np.testing.assert_array_equal(BlobFile(path).read(offset, dtype_number, values.shape), values)
    with pytest.raises(MILError, match="storage dtype|bad sentinel"):
        BlobFile(path).read(offset, 11 if dtype_number != 11 else 10, values.shape)


def test_image_features_follow_coreml_semantics():
    rgb = Feature("image", "image", "RGB", enumerated=((2, 3), (4, 4)))
    pixels = np.arange(18, dtype=np.uint8).reshape(2, 3, 3)
    tensor = image_to_tensor(rgb, pixels)
    assert tensor.shape == (1, 3, 2, 3) and tensor.dtype == np.float32
    np.testing.assert_array_equal(tensor[0, 0], pixels[:, :, 0])  # (H,W,3) -> (1,3,H,W), no scaling
    bgr = Feature("image", "image", "BGR", fixed=(2, 3))
    np.testing.assert_array_equal(image_to_tensor(bgr, pixels)[0, 0], pixels[:, :, 2])
    with pytest.raises(MILError, match="enumerated sizes: 2x3, 4x4"):
        image_to_tensor(rgb, np.zeros((3, 3, 3), np.uint8))
    with pytest.raises(MILError, match="8-bit"):
        image_to_tensor(rgb, pixels.astype(np.float32))
    out = tensor_to_image(rgb, np.array([[[[-5.0, 0.49, 0.5, 254.6, 300.0]]] * 3]).reshape(1, 3, 1, 5))
    assert out.dtype == np.uint8 and out.shape == (1, 5, 3)
    np.testing.assert_array_equal(out[0, :, 0], [0, 0, 0, 255, 255])  # clamp, round half to even
