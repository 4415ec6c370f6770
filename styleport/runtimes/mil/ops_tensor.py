"""MIL tensor ops: elementwise arithmetic, cast, and the shape ops the output crop produces.

Semantics follow Apple's MIL op reference (coremltools ``mil/ops/defs/iOS15``/``iOS17``).
Elementwise binary ops broadcast like numpy.
"""

from __future__ import annotations

import numpy as np

from styleport.runtimes.mil.registry import mil_op
from styleport.runtimes.mil.values import MILError, numpy_dtype


def _axis(axis, rank: int) -> int:
    axis = int(axis)
    if not -rank <= axis < rank:
        raise MILError(f"axis {axis} out of range for rank {rank}")
    return axis % rank


@mil_op("add")
def _add(x, y):
    """x + y, elementwise with broadcasting."""
    return np.add(x, y)


@mil_op("sub")
def _sub(x, y):
    """x - y, elementwise with broadcasting."""
    return np.subtract(x, y)


@mil_op("mul")
def _mul(x, y):
    """x * y, elementwise with broadcasting."""
    return np.multiply(x, y)


@mil_op("real_div")
def _real_div(x, y):
    """x / y (true division), elementwise with broadcasting."""
    return np.true_divide(x, y)


@mil_op("maximum")
def _maximum(x, y):
    """max(x, y), elementwise with broadcasting."""
    return np.maximum(x, y)


@mil_op("minimum")
def _minimum(x, y):
    """min(x, y), elementwise with broadcasting."""
    return np.minimum(x, y)


@mil_op("cast")
def _cast(x, dtype):
    """Convert x to ``dtype`` ("fp16", "fp32", "int32", "bool", ...); float -> int truncates toward 0."""
    return np.asarray(x).astype(numpy_dtype(str(dtype)))


@mil_op("identity")
def _identity(x):
    """Returns x unchanged (a copy-free pass-through)."""
    return x


@mil_op("shape")
def _shape(x):
    """The shape of x as a rank-1 int32 tensor."""
    return np.asarray(np.shape(x), dtype=np.int32)


@mil_op("gather")
def _gather(x, indices, axis=0, batch_dims=0, validate_indices=False):
    """Take slices of x along ``axis`` at ``indices`` (negative indices count from the end).

    Output shape: x.shape[:axis] + indices.shape + x.shape[axis+1:]. Only batch_dims=0.
    """
    if int(batch_dims) != 0:
        raise MILError("gather: batch_dims != 0 is not supported")
    x = np.asarray(x)
    axis = _axis(axis, x.ndim)
    idx = np.asarray(indices).astype(np.int64)
    size = x.shape[axis]
    if np.any(idx >= size) or np.any(idx < -size):
        raise MILError(f"gather: index out of range for dim of size {size}")
    return np.take(x, np.where(idx < 0, idx + size, idx), axis=axis)


@mil_op("concat")
def _concat(values, axis, interleave=False):
    """Join the tensors of ``values`` along ``axis`` (interleave=False only)."""
    if bool(interleave):
        raise MILError("concat: interleave=True is not supported")
    values = [np.asarray(v) for v in (values if isinstance(values, list) else [values])]
    values = [v.reshape(1) if v.ndim == 0 else v for v in values]
    return np.concatenate(values, axis=_axis(axis, values[0].ndim))


def _mask(value, rank: int) -> list[bool]:
    return [bool(v) for v in np.asarray(value).reshape(-1)] if value is not None else [False] * rank


@mil_op("slice_by_index")
def _slice_by_index(x, begin, end, stride=None, begin_mask=None, end_mask=None, squeeze_mask=None):
    """x[begin[i]:end[i]:stride[i]] per dim; negative begin/end count from the end.

    ``begin_mask[i]`` ignores begin[i] (start of the dim in the stride's direction),
    ``end_mask[i]`` ignores end[i] (run to the end), ``squeeze_mask[i]`` drops dim i (size 1).
    """
    x = np.asarray(x)
    rank = x.ndim
    begin, end = np.asarray(begin).reshape(-1), np.asarray(end).reshape(-1)
    strides = np.asarray(stride).reshape(-1) if stride is not None else np.ones(rank, dtype=np.int64)
    bmask, emask, smask = _mask(begin_mask, rank), _mask(end_mask, rank), _mask(squeeze_mask, rank)
    if not len(begin) == len(end) == len(strides) == rank:
        raise MILError(f"slice_by_index: begin/end/stride must have {rank} entries")
    index = []
    for dim in range(rank):
        step = int(strides[dim])
        start = None if bmask[dim] else int(begin[dim])
        stop = None if emask[dim] else int(end[dim])
        index.append(int(begin[dim]) if smask[dim] else slice(start, stop, step))
    return x[tuple(index)]


@mil_op("slice_by_size")
def _slice_by_size(x, begin, size):
    """x[begin[i] : begin[i] + size[i]] per dim; size -1 means to the end of the dim."""
    x = np.asarray(x)
    index = []
    for dim, (b, s) in enumerate(zip(np.asarray(begin).reshape(-1), np.asarray(size).reshape(-1), strict=True)):
        b = int(b) % x.shape[dim] if x.shape[dim] else 0
        index.append(slice(b, None if int(s) == -1 else b + int(s)))
    return x[tuple(index)]


@mil_op("expand_dims")
def _expand_dims(x, axes):
    """Insert size-1 dims at ``axes`` (positions in the output; negative count from the end)."""
    x = np.asarray(x)
    out_rank = x.ndim + np.asarray(axes).size
    return np.expand_dims(x, tuple(_axis(a, out_rank) for a in np.asarray(axes).reshape(-1)))


@mil_op("squeeze")
def _squeeze(x, axes=None):
    """Remove size-1 dims at ``axes`` (all size-1 dims when axes is absent)."""
    x = np.asarray(x)
    if axes is None:
        return np.squeeze(x)
    return np.squeeze(x, tuple(_axis(a, x.ndim) for a in np.asarray(axes).reshape(-1)))


@mil_op("reshape")
def _reshape(x, shape):
    """Reshape to ``shape``: -1 infers one dim, 0 copies the input's dim at that position."""
    x = np.asarray(x)
    target = [int(s) for s in np.asarray(shape).reshape(-1)]
    target = [x.shape[i] if s == 0 else s for i, s in enumerate(target)]
    return x.reshape(target)


@mil_op("transpose")
def _transpose(x, perm):
    """Permute dims: output dim i is input dim perm[i]."""
    return np.transpose(x, [int(p) for p in np.asarray(perm).reshape(-1)])


@mil_op("tile")
def _tile(x, reps):
    """Repeat x reps[i] times along dim i."""
    return np.tile(x, [int(r) for r in np.asarray(reps).reshape(-1)])
