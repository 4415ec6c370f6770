"""MIL neural-network ops: conv, instance_norm, pad, upsample_nearest_neighbor, activations, linear.

Semantics follow Apple's MIL op reference (coremltools ``mil/ops/defs/iOS15``); arithmetic is
fp32 (the program rounds results to fp16 where it declares fp16 tensors).
"""

from __future__ import annotations

import math

import numpy as np

from styleport.runtimes.mil.registry import mil_op
from styleport.runtimes.mil.values import MILError

_IM2COL_FLOATS = 1 << 23  # conv works on row chunks whose im2col buffer holds at most this many floats


def _ints(value, name: str) -> list[int]:
    return [int(v) for v in np.asarray(value).reshape(-1)] if value is not None else []


def _conv_padding(pad_type: str, pad, in_hw, kernel_hw, strides, dilations) -> list[int]:
    """[top, bottom, left, right] for pad_type valid / custom / same / same_lower."""
    if pad_type == "valid":
        return [0, 0, 0, 0]
    if pad_type == "custom":
        values = _ints(pad, "pad") or [0, 0, 0, 0]
        if len(values) != 4:
            raise MILError(f"conv: custom pad needs 4 values for 2-D, got {values}")
        return values
    if pad_type in ("same", "same_lower"):
        out = []
        for size, k, s, d in zip(in_hw, kernel_hw, strides, dilations, strict=True):
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            small, big = total // 2, total - total // 2
            out += [big, small] if pad_type == "same_lower" else [small, big]
        return out
    raise MILError(f"conv: unknown pad_type '{pad_type}' (valid, custom, same, same_lower)")


@mil_op("conv")
def _conv(x, weight, bias=None, strides=None, pad_type="valid", pad=None, dilations=None, groups=1):
    """2-D cross-correlation (N,C_in,H,W) * (C_out,C_in/groups,kH,kW) -> (N,C_out,H',W').

    ``strides`` and ``dilations`` default to 1; ``pad_type`` valid (no padding), custom
    (``pad`` = [top, bottom, left, right]), same / same_lower (output = ceil(in/stride), odd padding
    at the bottom/right resp. top/left). ``bias`` (C_out) is added to every output position.
    H' = floor((H + pad_h - dilation*(kH-1) - 1) / stride) + 1, likewise W'.
    """
    if x.ndim != 4 or weight.ndim != 4:
        raise MILError(f"conv: only 2-D convolution is supported, got x rank {x.ndim}, weight rank {weight.ndim}")
    groups = int(groups)
    n, c_in, h, w = x.shape
    c_out, c_in_g, kh, kw = weight.shape
    if c_in != c_in_g * groups or c_out % groups:
        raise MILError(f"conv: x has {c_in} channels, weight {weight.shape} with groups={groups}")
    sh, sw = _ints(strides, "strides") or [1, 1]
    dh, dw = _ints(dilations, "dilations") or [1, 1]
    top, bottom, left, right = _conv_padding(str(pad_type), pad, (h, w), (kh, kw), (sh, sw), (dh, dw))
    # (N,C,H,W) -> (N,C,H+top+bottom,W+left+right), zero padding
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right))) if top + bottom + left + right else x
    ho = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    wo = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    if ho < 1 or wo < 1:
        raise MILError(f"conv: input {h}x{w} is smaller than the {kh}x{kw} kernel")
    out = np.zeros((n, c_out, ho * wo), dtype=np.float32)
    co_g = c_out // groups
    k = c_in_g * kh * kw
    rows_per_chunk = max(1, _IM2COL_FLOATS // max(1, k * wo))  # bound the im2col buffer (~32 MB)
    for g in range(groups):
        ci, co = slice(g * c_in_g, (g + 1) * c_in_g), slice(g * co_g, (g + 1) * co_g)
        wmat = np.asarray(weight[co], dtype=np.float32).reshape(co_g, k)  # (C_out_g,C_in_g,kH,kW) -> (C_out_g,K)
        for b in range(n):
            xg = xp[b, ci]  # (C_in_g, H+pads, W+pads)
            for r0 in range(0, ho, rows_per_chunk):
                nr = min(rows_per_chunk, ho - r0)
                cols = np.empty((c_in_g, kh, kw, nr, wo), dtype=np.float32)
                for i in range(kh):
                    top_row = r0 * sh + i * dh
                    for j in range(kw):
                        rows = slice(top_row, top_row + sh * (nr - 1) + 1, sh)
                        cols[:, i, j] = xg[:, rows, j * dw : j * dw + sw * (wo - 1) + 1 : sw]
                # (C_out_g,K) @ (K, nr*W') -> output rows r0..r0+nr
                out[b, co, r0 * wo : (r0 + nr) * wo] = wmat @ cols.reshape(k, nr * wo)
    if bias is not None:
        out += np.asarray(bias, dtype=np.float32).reshape(1, c_out, 1)
    return out.reshape(n, c_out, ho, wo)  # (N,C_out,H'W') -> (N,C_out,H',W')


@mil_op("instance_norm")
def _instance_norm(x, gamma=None, beta=None, epsilon=1e-5):
    """Normalise each (sample, channel) over its spatial dims: (x - mean) / sqrt(var + epsilon).

    ``var`` is the biased (population) variance; then ``* gamma[c] + beta[c]`` when given.
    x is rank 3 (N,C,D) or rank 4 (N,C,H,W).
    """
    if x.ndim not in (3, 4):
        raise MILError(f"instance_norm: x must be rank 3 or 4, got rank {x.ndim}")
    axes = tuple(range(2, x.ndim))
    x = np.asarray(x, dtype=np.float32)
    mean = x.mean(axis=axes, keepdims=True)
    centred = x - mean
    var = np.square(centred).mean(axis=axes, keepdims=True)
    y = centred / np.sqrt(var + np.float32(epsilon))
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if gamma is not None:
        y = y * np.asarray(gamma).reshape(shape)
    if beta is not None:
        y = y + np.asarray(beta).reshape(shape)
    return y.astype(np.float32)


@mil_op("pad")
def _pad(x, pad, mode="constant", constant_val=0.0):
    """Pad the last len(pad)/2 dims: ``pad`` = [before_0, after_0, before_1, after_1, ...].

    ``mode``: constant (fill ``constant_val``), reflect (mirror without repeating the edge, like
    numpy "reflect"; each pad must be < the dim size), replicate (repeat the edge value).
    """
    widths = _ints(pad, "pad")
    if len(widths) % 2 or len(widths) // 2 > x.ndim:
        raise MILError(f"pad: {len(widths)} pad values do not fit a rank-{x.ndim} tensor")
    lead = x.ndim - len(widths) // 2
    spec = [(0, 0)] * lead + [(widths[2 * i], widths[2 * i + 1]) for i in range(len(widths) // 2)]
    mode = str(mode)
    if mode == "constant":
        return np.pad(x, spec, mode="constant", constant_values=float(constant_val))
    if mode == "reflect":
        for dim, (before, after) in enumerate(spec):
            if max(before, after) >= x.shape[dim] and before + after:
                raise MILError(f"pad: reflect pad {before},{after} needs dim {dim} > pad, it is {x.shape[dim]}")
        return np.pad(x, spec, mode="reflect")
    if mode == "replicate":
        return np.pad(x, spec, mode="edge")
    raise MILError(f"pad: unknown mode '{mode}' (constant, reflect, replicate)")


@mil_op("upsample_nearest_neighbor")
def _upsample_nearest_neighbor(x, scale_factor_height=1.0, scale_factor_width=1.0):
    """Nearest-neighbour resize of the last two dims: (..,H,W) -> (..,floor(H*sh),floor(W*sw)).

    Output pixel (i, j) takes input pixel (floor(i / sh), floor(j / sw)).
    """
    sh, sw = float(scale_factor_height), float(scale_factor_width)
    h, w = x.shape[-2:]
    ho, wo = int(math.floor(h * sh)), int(math.floor(w * sw))
    rows = np.minimum(np.floor(np.arange(ho) / sh).astype(np.int64), h - 1)
    cols = np.minimum(np.floor(np.arange(wo) / sw).astype(np.int64), w - 1)
    return x[..., rows, :][..., cols]  # (..,H,W) -> (..,H',W')


@mil_op("pixel_shuffle")
def _pixel_shuffle(x, upscale_factor):
    """Depth to space as torch ``pixel_shuffle`` (ONNX DepthToSpace CRD): (N,C*r*r,H,W) -> (N,C,H*r,W*r),
    output (c, h*r + i, w*r + j) = input (c*r*r + i*r + j, h, w)."""
    r = int(np.asarray(upscale_factor).reshape(-1)[0])
    n, c, h, w = x.shape
    if r < 1 or c % (r * r):
        raise MILError(f"pixel_shuffle: {c} channels are not a multiple of upscale_factor^2 = {r * r}")
    y = x.reshape(n, c // (r * r), r, r, h, w).transpose(0, 1, 4, 2, 5, 3)  # -> (N,C,H,r,W,r)
    return y.reshape(n, c // (r * r), h * r, w * r)


@mil_op("relu")
def _relu(x):
    """max(x, 0), elementwise."""
    return np.maximum(x, 0)


@mil_op("clip")
def _clip(x, alpha, beta):
    """min(max(x, alpha), beta), elementwise."""
    return np.minimum(np.maximum(x, alpha), beta)


@mil_op("sigmoid")
def _sigmoid(x):
    """1 / (1 + exp(-x)), elementwise."""
    return 1.0 / (1.0 + np.exp(-x))


@mil_op("tanh")
def _tanh(x):
    """tanh(x), elementwise."""
    return np.tanh(x)


@mil_op("linear")
def _linear(x, weight, bias=None):
    """x @ weight^T + bias: (..,D_in) x (D_out,D_in) -> (..,D_out)."""
    y = x @ np.asarray(weight).T
    return y + bias if bias is not None else y


@mil_op("matmul")
def _matmul(x, y, transpose_x=False, transpose_y=False):
    """Batched matrix product with numpy broadcasting; ``transpose_*`` swap the last two dims first."""
    if bool(transpose_x):
        x = np.swapaxes(x, -1, -2)
    if bool(transpose_y):
        y = np.swapaxes(y, -1, -2)
    return np.matmul(x, y)
