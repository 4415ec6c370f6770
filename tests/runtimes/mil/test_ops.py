"""Each MIL op of the interpreter against torch / numpy, through the registry's validating run()."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from styleport.runtimes.mil import registry
from styleport.runtimes.mil.registry import UnsupportedOpError
from styleport.runtimes.mil.values import MILError

RNG = np.random.default_rng(0)


def run(op: str, **args):
    return registry.get(op).run(args)


def rand(*shape) -> np.ndarray:
    return RNG.standard_normal(shape).astype(np.float32)


def torch_np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


# ---- neural-network ops --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stride", "dilation", "groups", "pad_type", "pad"),
    [
        (1, 1, 1, "valid", None),
        (2, 1, 1, "valid", None),
        (1, 2, 1, "custom", [1, 2, 0, 3]),
        (2, 1, 2, "custom", [1, 1, 1, 1]),
        (1, 1, 1, "same", None),
        (2, 1, 1, "same", None),
    ],
)
def test_conv_matches_torch(stride, dilation, groups, pad_type, pad):
    x, w, b = rand(2, 4, 11, 9), rand(6, 4 // groups, 3, 3), rand(6)
    got = run(
        "conv",
        x=x,
        weight=w,
        bias=b,
        strides=np.array([stride, stride]),
        pad_type=pad_type,
        pad=None if pad is None else np.array(pad),
        dilations=np.array([dilation, dilation]),
        groups=np.int32(groups),
    )
    if pad_type == "same":  # torch has no asymmetric "same" with stride: pad explicitly like MIL (extra at the end)
        pads = []
        for size in (11, 9):
            total = max((-(-size // stride) - 1) * stride + 3 - size, 0)
            pads.append((total // 2, total - total // 2))
        pad = [pads[0][0], pads[0][1], pads[1][0], pads[1][1]]
    top, bottom, left, right = pad or [0, 0, 0, 0]
    xt = F.pad(torch.from_numpy(x), (left, right, top, bottom))
    want = F.conv2d(xt, torch.from_numpy(w), torch.from_numpy(b), stride=stride, dilation=dilation, groups=groups)
    assert got.shape == tuple(want.shape)
    np.testing.assert_allclose(got, torch_np(want), atol=1e-4)


def test_conv_9x9_without_bias_and_too_small_input():
    x, w = rand(1, 3, 20, 17), rand(5, 3, 9, 9)
    np.testing.assert_allclose(
        run("conv", x=x, weight=w), torch_np(F.conv2d(torch.from_numpy(x), torch.from_numpy(w))), atol=1e-4
    )
    with pytest.raises(MILError, match="smaller than"):
        run("conv", x=rand(1, 3, 4, 4), weight=w)


def test_instance_norm_matches_torch():
    x, g, b = rand(2, 5, 7, 6) * 30 + 4, rand(5), rand(5)
    got = run("instance_norm", x=x, gamma=g, beta=b, epsilon=np.float32(1e-5))
    want = F.instance_norm(torch.from_numpy(x), weight=torch.from_numpy(g), bias=torch.from_numpy(b), eps=1e-5)
    np.testing.assert_allclose(got, torch_np(want), atol=1e-4)
    plain = run("instance_norm", x=x)  # gamma/beta optional
    np.testing.assert_allclose(plain, torch_np(F.instance_norm(torch.from_numpy(x))), atol=1e-4)


@pytest.mark.parametrize(
    ("mode", "torch_mode"), [("reflect", "reflect"), ("replicate", "replicate"), ("constant", "constant")]
)
def test_pad_matches_torch(mode, torch_mode):
    x = rand(1, 2, 6, 5)
    got = run("pad", x=x, pad=np.array([0, 0, 0, 0, 2, 3, 1, 4]), mode=mode, constant_val=np.float32(1.5))
    kwargs = {"value": 1.5} if mode == "constant" else {}
    want = F.pad(torch.from_numpy(x), (1, 4, 2, 3), mode=torch_mode, **kwargs)
    np.testing.assert_array_equal(got, torch_np(want))


def test_reflect_pad_larger_than_dim_is_an_error():
    with pytest.raises(MILError, match="reflect"):
        run("pad", x=rand(1, 1, 2, 2), pad=np.array([2, 2, 0, 0]), mode="reflect")


@pytest.mark.parametrize("scale", [2.0, 3.0])
def test_upsample_nearest_neighbor_matches_torch(scale):
    x = rand(1, 3, 5, 4)
    got = run(
        "upsample_nearest_neighbor", x=x, scale_factor_height=np.float32(scale), scale_factor_width=np.float32(scale)
    )
    want = F.interpolate(torch.from_numpy(x), scale_factor=scale, mode="nearest")
    np.testing.assert_array_equal(got, torch_np(want))


def test_pixel_shuffle_matches_torch():
    x = rand(1, 12, 3, 5)
    np.testing.assert_array_equal(
        run("pixel_shuffle", x=x, upscale_factor=np.int32(2)), torch_np(F.pixel_shuffle(torch.from_numpy(x), 2))
    )
    with pytest.raises(MILError, match="multiple"):
        run("pixel_shuffle", x=rand(1, 6, 2, 2), upscale_factor=np.int32(2))


def test_activations_and_clip():
    x = rand(3, 4) * 300
    np.testing.assert_array_equal(run("relu", x=x), torch_np(F.relu(torch.from_numpy(x))))
    np.testing.assert_array_equal(run("clip", x=x, alpha=np.float32(0), beta=np.float32(255)), np.clip(x, 0, 255))
    np.testing.assert_allclose(run("sigmoid", x=x / 100), torch_np(torch.sigmoid(torch.from_numpy(x / 100))), atol=1e-6)
    np.testing.assert_allclose(run("tanh", x=x / 100), np.tanh(x / 100), atol=1e-6)


def test_linear_and_matmul_match_torch():
    x, w, b = rand(2, 4), rand(3, 4), rand(3)
    np.testing.assert_allclose(
        run("linear", x=x, weight=w, bias=b), torch_np(F.linear(*map(torch.from_numpy, (x, w, b)))), atol=1e-5
    )
    a, c = rand(2, 3, 4), rand(2, 5, 4)
    got = run("matmul", x=a, y=c, transpose_y=np.bool_(True))
    np.testing.assert_allclose(got, torch_np(torch.from_numpy(a) @ torch.from_numpy(c).transpose(1, 2)), atol=1e-5)


# ---- tensor ops ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "fn"),
    [
        ("add", np.add),
        ("sub", np.subtract),
        ("mul", np.multiply),
        ("real_div", np.divide),
        ("maximum", np.maximum),
        ("minimum", np.minimum),
    ],
)
def test_elementwise_broadcast(op, fn):
    x, y = rand(2, 3, 4), rand(3, 1) + 3
    np.testing.assert_array_equal(run(op, x=x, y=y), fn(x, y))


def test_cast_rounds_to_fp16_and_truncates_to_int():
    x = np.array([1.0001, -2.7, 65519.0], dtype=np.float32)
    assert run("cast", x=x, dtype="fp16").dtype == np.float16
    np.testing.assert_array_equal(run("cast", x=x, dtype="fp16"), np.array([1.0, -2.69921875, 65504.0], np.float16))
    np.testing.assert_array_equal(run("cast", x=x[:2], dtype="int32"), np.array([1, -2], dtype=np.int32))
    with pytest.raises(MILError, match="unknown MIL dtype"):
        run("cast", x=x, dtype="fp7")


def test_shape_gather_concat_slice_crop_chain():
    """The ops the in-model crop y[:, :, :H, :W] converts to, on a dynamic input."""
    image, y = rand(1, 3, 37, 50), rand(1, 3, 40, 52)
    shape = run("shape", x=image)
    assert shape.dtype == np.int32 and list(shape) == [1, 3, 37, 50]
    h = run("gather", x=shape, indices=np.int32(2), axis=np.int32(0))
    w = run("gather", x=shape, indices=np.int32(-1), axis=np.int32(0))  # negative: from the end
    end = run("concat", values=[np.array([0], np.int32), np.array([0], np.int32), h, w], axis=np.int32(0))
    got = run(
        "slice_by_index", x=y, begin=np.zeros(4, np.int32), end=end, end_mask=np.array([True, True, False, False])
    )
    np.testing.assert_array_equal(got, y[:, :, :37, :50])


def test_slice_by_index_stride_negative_and_squeeze():
    x = rand(4, 6, 5)
    got = run(
        "slice_by_index",
        x=x,
        begin=np.array([1, -5, 0]),
        end=np.array([3, -1, 5]),
        stride=np.array([1, 2, 1]),
        begin_mask=np.array([False, False, True]),
        squeeze_mask=np.array([False, False, False]),
    )
    np.testing.assert_array_equal(got, x[1:3, -5:-1:2, :])
    squeezed = run(
        "slice_by_index",
        x=x,
        begin=np.array([2, 0, 0]),
        end=np.array([3, 6, 5]),
        squeeze_mask=np.array([True, False, False]),
    )
    np.testing.assert_array_equal(squeezed, x[2])


def test_slice_by_size_expand_squeeze_reshape_transpose_tile():
    x = rand(2, 3, 4)
    np.testing.assert_array_equal(
        run("slice_by_size", x=x, begin=np.array([1, 0, 1]), size=np.array([1, -1, 2])), x[1:2, :, 1:3]
    )
    np.testing.assert_array_equal(run("expand_dims", x=x, axes=np.array([0, -1])), x[None, ..., None])
    np.testing.assert_array_equal(run("squeeze", x=x[None, :, None], axes=np.array([0, 2])), x)
    np.testing.assert_array_equal(run("reshape", x=x, shape=np.array([0, -1])), x.reshape(2, 12))
    np.testing.assert_array_equal(run("transpose", x=x, perm=np.array([2, 0, 1])), x.transpose(2, 0, 1))
    np.testing.assert_array_equal(run("tile", x=x, reps=np.array([1, 2, 1])), np.tile(x, (1, 2, 1)))
    np.testing.assert_array_equal(run("identity", x=x), x)


def test_gather_out_of_range():
    with pytest.raises(MILError, match="out of range"):
        run("gather", x=np.arange(4), indices=np.int32(4))


# ---- compressed-weight ops -----------------------------------------------------------------------


def test_constexpr_affine_dequantize_per_channel():
    q = RNG.integers(-128, 128, size=(4, 3, 2, 2)).astype(np.int8)
    scale, zp = np.array([0.1, 0.2, 0.3, 0.4], np.float32), np.array([0, 1, -2, 3], np.int8)
    got = run("constexpr_affine_dequantize", quantized_data=q, zero_point=zp, scale=scale, axis=np.int32(0))
    want = scale[:, None, None, None] * (q.astype(np.float32) - zp[:, None, None, None])
    np.testing.assert_allclose(got, want, rtol=1e-6)


def pack_lsb_first(indices: np.ndarray, nbits: int) -> np.ndarray:
    """Independent reference packer: element i's bits at bit offsets i*nbits.., LSB first."""
    total = indices.size * nbits
    out = np.zeros((total + 7) // 8, dtype=np.uint8)
    for i, value in enumerate(indices.reshape(-1)):
        for bit in range(nbits):
            if (int(value) >> bit) & 1:
                pos = i * nbits + bit
                out[pos // 8] |= 1 << (pos % 8)
    return out


@pytest.mark.parametrize("nbits", [2, 4, 6, 8])
def test_constexpr_lut_to_dense_ios16_packed(nbits):
    shape = (5, 3, 3)
    idx = RNG.integers(0, 2**nbits, size=shape)
    lut = rand(2**nbits)
    got = run("constexpr_lut_to_dense", indices=pack_lsb_first(idx, nbits), lut=lut, shape=np.array(shape, np.uint32))
    np.testing.assert_array_equal(got, lut[idx])


def test_constexpr_lut_to_dense_ios18_grouped():
    idx = RNG.integers(0, 4, size=(6, 2))
    lut = rand(2, 1, 4, 1)  # two tables along dim 0 (rows 0-2, 3-5), 4 entries, vector size 1
    got = run("constexpr_lut_to_dense", indices=idx, lut=lut)
    want = np.concatenate([lut[0, 0, idx[:3], 0], lut[1, 0, idx[3:], 0]])
    np.testing.assert_array_equal(got, want)
    with pytest.raises(MILError, match="vector palettization"):
        run("constexpr_lut_to_dense", indices=idx, lut=rand(1, 1, 4, 2))


def test_constexpr_blockwise_shift_scale():
    data = RNG.integers(-8, 8, size=(4, 6)).astype(np.int8)
    scale, offset = rand(2, 3), RNG.integers(-2, 2, size=(2, 3)).astype(np.int8)  # blocks of 2x2
    got = run("constexpr_blockwise_shift_scale", data=data, scale=scale, offset=offset)
    big = lambda a: np.repeat(np.repeat(a.astype(np.float32), 2, axis=0), 2, axis=1)  # noqa: E731
    np.testing.assert_allclose(got, big(scale) * (data - big(offset)), rtol=1e-6)
    np.testing.assert_allclose(
        run("constexpr_blockwise_shift_scale", data=data, scale=scale), big(scale) * data, rtol=1e-6
    )


# ---- the registry's validation -------------------------------------------------------------------


def test_unknown_op_lists_supported_ops():
    with pytest.raises(UnsupportedOpError) as info:
        registry.get("non_maximum_suppression")
    message = str(info.value)
    assert "non_maximum_suppression" in message
    for name in ("conv", "instance_norm", "upsample_nearest_neighbor", "constexpr_lut_to_dense", "const"):
        assert name in message


def test_run_validates_arguments():
    with pytest.raises(MILError, match="missing required input.*weight"):
        run("conv", x=rand(1, 1, 3, 3))
    with pytest.raises(MILError, match="unknown input.*gamma2"):
        run("instance_norm", x=rand(1, 1, 3, 3), gamma2=rand(1))


def test_every_registered_op_documents_its_semantics():
    for name in registry.supported_ops():
        if name != "const":
            assert len(registry.get(name).doc) > 20, name
