"""CoreML export at every precision, verified through the MIL interpreter against torch at sizes the
artifact enumerates (other than the export size; 61x83 is not a multiple of 4)."""

from __future__ import annotations

import shutil
import struct

import numpy as np
import pytest
import torch

from styleport import checkpoints
from styleport.errors import UsageError
from styleport.export import base
from styleport.export.base import ExportRequest
from styleport.export.coreml import DEFAULT_SHAPES, VERIFY_SHAPES
from styleport.export.verify import ParityError, verify_artifact
from styleport.precision import Precision
from styleport.runtimes.coreml import INTERPRETER_NOTE, CoreMLRuntime
from styleport.runtimes.mil import Interpreter, MILError
from styleport.testing import trained_net
from styleport.tolerances import lookup
from tests.conftest import PHOTOS, make_net

pytest.importorskip("coremltools")

PRECISIONS = (Precision.FP32, Precision.FP16, Precision.INT8, Precision.PALETTE6, Precision.PALETTE4)
EXPORT_SHAPE = ((64, 64),)


def export_all(folder, net, names, precisions, options=None):
    ckpt = checkpoints.load(checkpoints.save(folder / "net.pth", net, {"style_names": names, "license": "CC0"}))
    model = ckpt.build()
    exporter = base.get("coreml")
    artifacts = {}
    for p in precisions:
        request = ExportRequest("coreml", p, EXPORT_SHAPE, tuple(PHOTOS[:2]), dict(options or {}))
        artifacts[p] = exporter.export(model, ckpt, folder / exporter.filename("net", p), request)
    return model, ckpt, artifacts


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """(model, checkpoint, {precision: artifact}): the trained great_wave net at every precision (lossy rows
    are set from trained networks; a random stand-in lands 15-20 dB below them, styleport/testing.py)."""
    return export_all(tmp_path_factory.mktemp("coreml1"), trained_net(), ["tiny"], PRECISIONS)


def check_verified(model, artifact, precision):
    sizes = [tuple(s) for s in artifact.details["verify_sizes"]]
    assert sizes == list(VERIFY_SHAPES) and EXPORT_SHAPE[0] not in sizes
    result = verify_artifact(artifact.path, "coreml", precision, model, "coreml", sizes=sizes, photos=PHOTOS[2:4])
    assert result.status == "passed", result.summary()
    assert result.info.device == "linux-interpreter" and result.info.notes == INTERPRETER_NOTE
    assert result.min_psnr >= lookup("coreml", precision).min_psnr
    return result


@pytest.mark.parametrize("precision", PRECISIONS, ids=str)
def test_every_precision_verifies_in_the_interpreter(single, precision):
    model, _, artifacts = single
    result = check_verified(model, artifacts[precision], precision)
    assert [c.size for c in result.cases] == [
        *VERIFY_SHAPES,
        VERIFY_SHAPES[0],
    ]  # each size, then the dark frame at the first


def test_sizes_shrink_with_precision(single):
    _, _, artifacts = single
    size = {p: artifacts[p].size_bytes for p in PRECISIONS}
    assert size[Precision.FP16] < 0.6 * size[Precision.FP32]
    assert size[Precision.INT8] < 0.7 * size[Precision.FP16]
    assert size[Precision.PALETTE4] < size[Precision.PALETTE6] < size[Precision.FP16]
    assert "int8" in artifacts[Precision.INT8].details["quantization"]
    assert artifacts[Precision.FP16].details["deployment_target"] == "iOS15"
    assert artifacts[Precision.INT8].details["deployment_target"] == "iOS16"


def test_package_declares_image_io_shapes_and_metadata(single):
    _, _, artifacts = single
    model = Interpreter(artifacts[Precision.FP16].path)
    image, out = model.inputs["image"], model.outputs["stylized"]
    assert image.kind == "image" and image.color == "RGB" and out.kind == "image"
    for shape in (*EXPORT_SHAPE, *DEFAULT_SHAPES, *VERIFY_SHAPES):
        assert shape in image.enumerated
    assert image.enumerated[0] == EXPORT_SHAPE[0]  # the request's size is the default
    assert model.metadata["styleport.style_names"] == '["tiny"]'
    assert model.metadata["styleport.precision"] == "fp16"
    assert model.license == "CC0" and model.author and model.short_description
    assert "0..255" in model.program.spec.description.input[0].shortDescription
    assert model.program.is_fp16
    assert not Interpreter(artifacts[Precision.FP32].path).program.is_fp16


def test_compressed_weights_are_constexpr_ops(single):
    _, _, artifacts = single
    for precision, op in (
        (Precision.INT8, "constexpr_affine_dequantize"),
        (Precision.PALETTE6, "constexpr_lut_to_dense"),
    ):
        program = Interpreter(artifacts[precision].path).program
        spec_ops = {
            o.type for o in program.spec.mlProgram.functions["main"].block_specializations["CoreML6"].operations
        }
        assert op in spec_ops, precision


def test_output_is_clamped_and_cropped_inside_the_model(single):
    _, _, artifacts = single
    session = CoreMLRuntime().open(artifacts[Precision.FP32].path)
    image = np.random.default_rng(3).uniform(0, 255, size=(61, 83, 3)).astype(np.float32)
    out = session.run(image)
    assert out.shape == (61, 83, 3) and out.min() >= 0 and out.max() <= 255
    with pytest.raises(MILError, match="not one of the model's enumerated sizes"):
        session.run(np.zeros((50, 50, 3), np.float32))


def weight_blobs(data: bytes) -> list[tuple[int, int, int]]:
    """(dtype, size, data offset) of every blob in a weight.bin: 64-byte header, then 64-byte records
    (u32 0xDEADBEEF, u32 dtype, u64 size, u64 offset), each blob 64-byte aligned after its record."""
    blobs, pos = [], 64
    while pos + 24 <= len(data):
        sentinel, dtype, size, start = struct.unpack_from("<IIQQ", data, pos)
        assert sentinel == 0xDEADBEEF, f"no blob record at {pos}"
        blobs.append((dtype, size, start))
        pos = (start + size + 63) // 64 * 64
    return blobs


def test_tampered_output_conv_fails_verification_on_photos(single, tmp_path):
    """The output conv scaled by 1.02 (no instance norm after it to divide the change away)."""
    model, _, artifacts = single
    broken = tmp_path / "broken.mlpackage"
    shutil.copytree(artifacts[Precision.FP32].path, broken)
    weights = next(broken.rglob("weight.bin"))
    data = bytearray(weights.read_bytes())
    out_conv = model.deconv3.conv2d.weight.detach().numpy().astype(np.float32)  # (3,C,9,9)
    matches = [
        (s, o)
        for d, s, o in weight_blobs(bytes(data))
        if d == 2
        and s == out_conv.nbytes
        and np.array_equal(np.frombuffer(bytes(data[o : o + s]), np.float32), out_conv.ravel())
    ]
    assert len(matches) == 1, "the output conv's fp32 weights are not stored as one blob"
    size, start = matches[0]
    data[start : start + size] = (out_conv * 1.02).tobytes()  # same format, slightly different numbers
    weights.write_bytes(bytes(data))
    photos = PHOTOS[2:4]
    ok = verify_artifact(
        artifacts[Precision.FP32].path, "coreml", Precision.FP32, model, "coreml", sizes=VERIFY_SHAPES, photos=photos
    )
    assert ok.status == "passed", ok.summary()  # the untouched artifact passes on the same photos
    with pytest.raises(ParityError) as info:
        verify_artifact(broken, "coreml", Precision.FP32, model, "coreml", sizes=VERIFY_SHAPES, photos=photos)
    assert "PSNR" in str(info.value) and "max abs" in str(info.value)


def test_tensor_io_with_a_size_range(tmp_path):
    net = make_net(width=0.25, seed=22)
    model, _, artifacts = export_all(tmp_path, net, ["tiny"], (Precision.FP32,), {"io": "tensor", "shapes": "range"})
    art = artifacts[Precision.FP32]
    assert art.details["shapes"].startswith("range") and "verify_sizes" not in art.details  # any size verifies
    session = CoreMLRuntime().open(art.path)
    image = np.random.default_rng(4).uniform(0, 255, size=(37, 53, 3)).astype(np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(image).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()  # (H,W,3) round trip
    got = session.run(image)
    assert np.abs(got - want).max() < 0.01  # float tensors: no 8-bit rounding, fp32 program
    with pytest.raises(MILError, match="outside the model's range"):
        session.run(np.zeros((12, 40, 3), np.float32))


def test_two_style_fp16_verifies_every_style_case(tmp_path):
    model, _, artifacts = export_all(tmp_path, trained_net(num_styles=2, seed=23), ["a", "b"], (Precision.FP16,))
    art = artifacts[Precision.FP16]
    assert Interpreter(art.path).inputs["style_weights"].fixed == (1, 2)
    result = check_verified(model, art, Precision.FP16)
    assert len({c.style for c in result.cases}) >= 2  # style 0 / style 1 / a mix


@pytest.mark.slow
@pytest.mark.parametrize("precision", [Precision.FP32, Precision.INT8, Precision.PALETTE6, Precision.PALETTE4], ids=str)
def test_two_style_other_precisions(tmp_path, precision):
    model, _, artifacts = export_all(tmp_path, trained_net(num_styles=2, seed=23), ["a", "b"], (precision,))
    check_verified(model, artifacts[precision], precision)


@pytest.mark.slow
@pytest.mark.parametrize("precision", [Precision.INT8, Precision.PALETTE4], ids=str)
def test_ios18_compressed_ops(tmp_path, precision):
    """iOS18 emits constexpr_blockwise_shift_scale / the grouped constexpr_lut_to_dense."""
    model, _, artifacts = export_all(tmp_path, trained_net(), ["x"], (precision,), {"target": "iOS18"})
    check_verified(model, artifacts[precision], precision)


@pytest.mark.slow
def test_must_show_width1_fp32_on_a_256_photo(tmp_path):
    """Interpreter fp32 output vs torch: max abs < 0.01 on a 256x256 photo, width-1.0 random-init net."""
    from styleport.export.calibration import images_at

    model, _, artifacts = export_all(
        tmp_path, make_net(width=1.0, seed=25), ["w1"], (Precision.FP32,), {"io": "tensor"}
    )
    image = images_at([PHOTOS[0]], [(256, 256)])[0]
    with torch.no_grad():
        want = model(torch.from_numpy(image).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    got = CoreMLRuntime().open(artifacts[Precision.FP32].path).run(image)
    assert np.abs(got - want).max() < 0.01


def test_validate_rejects_bad_requests_before_work():
    exporter = base.get("coreml")
    bad = [
        ExportRequest("coreml", Precision.UINT8),
        ExportRequest("coreml", Precision.FP16, options={"io": "video"}),
        ExportRequest("coreml", Precision.FP16, options={"colour": "rgb"}),
        ExportRequest("coreml", Precision.INT8, options={"target": "iOS15"}),
        ExportRequest("coreml", Precision.FP16, shapes=((8, 8000),)),
    ]
    for request in bad:
        with pytest.raises(UsageError):
            exporter.validate(request)
