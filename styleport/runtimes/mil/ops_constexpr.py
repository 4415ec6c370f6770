"""MIL compressed-weight ops: constexpr_affine_dequantize, constexpr_lut_to_dense (iOS16 and
iOS18 forms) and constexpr_blockwise_shift_scale (iOS18).

These are what ``coremltools.optimize.coreml`` emits for int8 linear quantization and k-means
palettization; CoreML decompresses them at load time. Sub-byte index/data tensors arrive already
unpacked (see values.py) except the iOS16 LUT form, whose ``indices`` are still packed bytes.
"""

from __future__ import annotations

import math

import numpy as np

from styleport.runtimes.mil.registry import mil_op
from styleport.runtimes.mil.values import MILError, unpack_bits


def _along(values, axis: int, rank: int) -> np.ndarray:
    """A scalar or (D,) vector shaped to broadcast along ``axis`` of a rank-``rank`` tensor."""
    values = np.asarray(values, dtype=np.float32)
    if values.ndim == 0:
        return values
    shape = [1] * rank
    shape[axis] = values.size
    return values.reshape(shape)


@mil_op("constexpr_affine_dequantize")
def _constexpr_affine_dequantize(quantized_data, zero_point, scale, axis):
    """iOS16: ``scale * (quantized_data - zero_point)``.

    ``scale`` and ``zero_point`` are scalars or vectors of length quantized_data.shape[axis],
    broadcast along ``axis``.
    """
    q = np.asarray(quantized_data)
    axis = int(axis) % q.ndim
    for name, v in (("scale", scale), ("zero_point", zero_point)):
        if np.ndim(v) == 1 and np.size(v) != q.shape[axis]:
            raise MILError(f"constexpr_affine_dequantize: {name} has {np.size(v)} values, axis dim is {q.shape[axis]}")
    return _along(scale, axis, q.ndim) * (q.astype(np.float32) - _along(zero_point, axis, q.ndim))


def _repeat_blocks(values: np.ndarray, shape: tuple[int, ...], what: str) -> np.ndarray:
    """Expand a per-block tensor to ``shape`` (block size per dim = shape[i] / values.shape[i])."""
    if values.ndim != len(shape):
        raise MILError(f"{what} has rank {values.ndim}, data has rank {len(shape)}")
    for dim, (full, blocks) in enumerate(zip(shape, values.shape, strict=True)):
        if full % blocks:
            raise MILError(f"{what}: dim {dim} of size {full} is not divisible into {blocks} blocks")
        values = np.repeat(values, full // blocks, axis=dim)
    return values


@mil_op("constexpr_blockwise_shift_scale")
def _constexpr_blockwise_shift_scale(data, scale, offset=None):
    """iOS18: ``output[i..] = scale[i0..] * (data[i..] - offset[i0..])`` with i0 = i // block_size.

    ``scale`` (and ``offset`` when given) have the rank of ``data``; block_size[d] =
    data.shape[d] / scale.shape[d] must be an integer.
    """
    data = np.asarray(data).astype(np.float32)
    out = data
    if offset is not None:
        out = out - _repeat_blocks(np.asarray(offset, dtype=np.float32), data.shape, "offset")
    return _repeat_blocks(np.asarray(scale, dtype=np.float32), data.shape, "scale") * out


@mil_op("constexpr_lut_to_dense")
def _constexpr_lut_to_dense(indices, lut, shape=None, vector_axis=None):
    """Look-up-table (palettized) weights -> dense tensor.

    iOS16 form (``shape`` given): ``indices`` are n-bit indices packed LSB first into uint8
    bytes, n = log2(len(lut)); output = lut[indices].reshape(shape), row-major.
    iOS18 form: ``indices`` is the n-bit index tensor itself (output shape) and ``lut`` has rank
    rank(indices) + 2: (*groups, NUM_PALETTES, VECTOR_SIZE); element i uses the table of group
    i // (indices.shape / groups). Only VECTOR_SIZE 1 (scalar palettization) is supported.
    """
    lut = np.asarray(lut)
    if shape is not None:
        out_shape = tuple(int(s) for s in np.asarray(shape).reshape(-1))
        nbits = int(round(math.log2(lut.size)))
        if lut.ndim != 1 or 1 << nbits != lut.size:
            raise MILError(f"constexpr_lut_to_dense: LUT size {lut.size} is not a power of two")
        count = int(np.prod(out_shape, dtype=np.int64))
        idx = unpack_bits(np.asarray(indices, dtype=np.uint8), nbits, count, signed=False)
        return lut[idx.astype(np.int64)].reshape(out_shape)
    indices = np.asarray(indices).astype(np.int64)
    if lut.ndim != indices.ndim + 2:
        raise MILError(f"constexpr_lut_to_dense: LUT rank {lut.ndim} must be indices rank {indices.ndim} + 2")
    if lut.shape[-1] != 1 or vector_axis is not None:
        raise MILError("constexpr_lut_to_dense: vector palettization (VECTOR_SIZE > 1) is not supported")
    tables = lut[..., 0]  # (*groups, NUM_PALETTES, 1) -> (*groups, NUM_PALETTES)
    group_index = []
    for dim, (full, groups) in enumerate(zip(indices.shape, tables.shape[:-1], strict=True)):
        if full % groups:
            raise MILError(f"constexpr_lut_to_dense: dim {dim} of size {full} not divisible into {groups} groups")
        coord = np.arange(full) // (full // groups)
        group_index.append(coord.reshape([-1 if d == dim else 1 for d in range(indices.ndim)]))
    return tables[(*group_index, indices)]
