"""Exact tiled inference: ``tiled_forward`` streams TransformerNet layer by layer, tile by tile.

Why not overlapping tiles blended together? Every instance norm normalises with the mean and
variance of the *whole* feature map. Run on a tile, the network sees only that tile's statistics,
so neighbouring tiles get different colour and contrast; blending hides the edge a little but not
the shift. Measured (bench/tiling.py, 1024x768, width-1.0 random-init net, 256 px tiles with 32 px
linear-ramp overlap): 12.2 dB PSNR against the untiled output, far below the 40 dB required.

What we do instead (a layer-streaming executor):

* Every full-resolution activation map lives in host memory (CPU tensors, optionally stored as
  fp16/bf16 to halve it). Only one tile at a time goes to the compute device.
* Every conv is computed tile by tile in its *output* coordinates. A tile reads the input rows and
  columns its receptive field needs (a halo of kernel//2, times the stride) straight from the full
  map, so overlap replaces blending and there are no seams by construction. The read goes through
  an index vector that applies, per axis, exactly what the layer does: reflection padding
  (``i < 0 -> -i``, ``i >= n -> 2(n-1) - i``; a tile on the border contains the rows being
  reflected, so this equals the full-image reflection), nearest x2 upsampling (``src = i // 2``,
  torch's nearest rule for scale 2) and the stride (the tile starts at ``stride * out_row``).
* Every instance norm uses global statistics: each conv tile contributes its per-channel count,
  mean and sum of squared deviations (one-pass Welford in fp32 per tile), merged over tiles in
  float64 with Chan's parallel update (no catastrophic cancellation, unlike sum / sum of squares). The stored map is the *raw* conv output;
  the norm becomes one per-channel ``scale, shift`` (gamma / sqrt(var + eps), beta - mean * scale;
  gamma and beta mixed by the style weights for multi-style nets) plus a ReLU flag, applied lazily
  when the next layer reads a tile. That saves a full memory pass per norm.
* Residual adds are one tile-wise pass writing ``x + norm(conv2)`` over the conv2 buffer. The last
  conv is computed only for the (H, W) crop and clamped, like ``TransformerNet.forward``.

The result equals ``model(x)`` up to float rounding (fp32: 127 dB PSNR, max abs 9e-4 at 1024x768,
tile 256; against a float64 run it is as close as the untiled fp32 network; tests/test_tiling.py).
Cost, measured at 1024x768 on a loaded 2-core CPU: ~1.6x the untiled CPU time (smaller conv
calls, gathers, per-tile statistics), 245 MB peak host memory above baseline vs 542 MB untiled
(159 MB with fp16 storage, 62 dB). The device working set is bounded by the tile: per conv, the
gathered input tile plus its output (at most 64 * tile**2 + 32 * tile**2 floats at width 1.0, for deconv2),
while host RAM holds about 1.5 full-resolution c1 maps (the input and output of the widest conv).
Tiles are ``tile`` pixels at full resolution and ``tile // 2`` of their own pixels at half and
quarter resolution, where there are 2x and 4x the channels.

Optional compute dtype (bf16/fp16): convs run in that dtype on the device; statistics, the norm
and the residual add stay in fp32/fp64, like autocast (bf16: 38 dB vs fp32, the same as untiled
autocast). On CPU it gains little, because the fp32 gathers and statistics then dominate.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F

from styleport.errors import ImageError, StyleportError, UsageError
from styleport.model import ConvLayer, StyleInstanceNorm, TransformerNet

MIN_TILE = 32
FLOAT_DTYPES = (torch.float32, torch.bfloat16, torch.float16)
_FP16_MAX = 65504.0


@dataclasses.dataclass(frozen=True)
class _Span:
    """One tile along one axis of a conv: which outputs it makes and which inputs it reads."""

    out: slice  # output positions (layer output coordinates)
    band: slice  # contiguous input positions the tile reads
    index: torch.Tensor | None  # (n,) int64 positions inside ``band``; None: the band as is


@dataclasses.dataclass(frozen=True)
class _Map:
    """A full activation map in host memory with a pending per-channel affine + ReLU."""

    raw: torch.Tensor  # (C,H,W) host, storage dtype
    scale: torch.Tensor | None = None  # (C,) float32 on the compute device
    shift: torch.Tensor | None = None  # (C,)
    relu: bool = False

    def read(self, rows: slice, cols: slice, device: torch.device) -> torch.Tensor:
        """(C,h,w) float32 on ``device``: the activation (not the raw map) for rows x cols."""
        t = self.raw[:, rows, cols].to(device=device, dtype=torch.float32)
        if self.scale is not None:
            # (C,) -> (C,1,1); out-of-place: ``t`` may alias the stored map
            t = torch.addcmul(self.shift[:, None, None], t, self.scale[:, None, None])
            return t.relu_() if self.relu else t
        return t.relu() if self.relu else t


def _axis_spans(n_in: int, n_out: int, layer: ConvLayer, step: int) -> list[_Span]:
    """Split ``n_out`` outputs of ``layer`` along one axis into tiles of ``step``."""
    n_up = n_in * layer.upsample
    pad = layer.kernel // 2
    if pad >= n_up:
        raise ValueError(f"reflection pad {pad} needs at least {pad + 1} positions, got {n_up}")
    spans = []
    for a in range(0, n_out, step):
        b = min(a + step, n_out)
        # positions in the (upsampled, unpadded) input that padded positions a*s .. (b-1)*s+k-1 map to
        i = torch.arange(a * layer.stride - pad, (b - 1) * layer.stride + layer.kernel - pad)
        i = torch.where(i < 0, -i, i)  # reflect at the start (edge not repeated)
        i = torch.where(i >= n_up, 2 * (n_up - 1) - i, i)  # reflect at the end
        src = torch.div(i, layer.upsample, rounding_mode="floor")  # nearest upsample: dst i <- src i//u
        lo, hi = int(src.min()), int(src.max()) + 1
        index = src - lo
        if len(index) == hi - lo and bool((index == torch.arange(hi - lo)).all()):
            index = None  # an interior tile of a plain conv: no reflection, no upsampling
        spans.append(_Span(slice(a, b), slice(lo, hi), index))
    return spans


def _out_len(n_in: int, layer: ConvLayer) -> int:
    """Output length of ``layer`` along one axis: ceil(u * n / s) for odd kernels with k//2 padding."""
    return -(-(n_in * layer.upsample) // layer.stride)


def _layer_plan(model: TransformerNet) -> list[tuple[ConvLayer, int]]:
    """(conv, downsampling factor of its output vs the image), in execution order."""
    plan = [(model.conv1, 1), (model.conv2, 2), (model.conv3, 4)]
    for block in model.residual_blocks():
        plan += [(block.conv1, 4), (block.conv2, 4)]
    return plan + [(model.deconv1, 2), (model.deconv2, 1), (model.deconv3, 1)]


def _layer_step(tile: int, factor: int) -> int:
    """Tile side in a layer's own pixels. Channels grow as resolution drops (c1 at 1x, 2*c1 at 1/2,
    4*c1 at 1/4), so quarter-resolution tiles of tile/2 hold as many floats as full-resolution tiles
    of tile (4*c1 * (tile/2)**2 = c1 * tile**2); bigger tiles there mean fewer, faster conv calls."""
    return max(1, tile // min(factor, 2))


def min_image_side(model: TransformerNet) -> int:
    """Smallest H (and W) the network accepts: every reflection pad must be shorter than its input."""
    plan = _layer_plan(model)
    n = 1
    while True:
        size, ok = n, True
        for layer, _ in plan:
            if layer.kernel // 2 >= size * layer.upsample:
                ok = False
                break
            size = _out_len(size, layer)
        if ok:
            return n
        n += 1


class _Streamer:
    """Runs one image through ``model`` with tiles; see the module docstring."""

    def __init__(
        self,
        model: TransformerNet,
        style_weights: torch.Tensor | None,  # (S,) or None
        tile: int,
        device: torch.device,
        dtype: torch.dtype,
        storage_dtype: torch.dtype,
    ) -> None:
        self.model, self.tile, self.device = model, tile, device
        self.dtype, self.storage_dtype = dtype, storage_dtype
        self.sw = None if style_weights is None else style_weights.to(device=device, dtype=torch.float64)

    def run(self, image: torch.Tensor) -> torch.Tensor:
        """(3,H,W) RGB 0..255 -> (3,H,W) float32 host, clamped to 0..255."""
        m = self.model
        h, w = image.shape[-2:]
        y = _Map(image.detach().to("cpu", torch.float32))  # the input is kept exact (3 channels)
        y = self._conv_norm(m.conv1, m.in1, y, 1, relu=True)  # (3,H,W) -> (c1,H,W)
        y = self._conv_norm(m.conv2, m.in2, y, 2, relu=True)  # -> (c2,ceil(H/2),ceil(W/2))
        y = self._conv_norm(m.conv3, m.in3, y, 4, relu=True)  # -> (c3,ceil(H/4),ceil(W/4))
        for block in m.residual_blocks():
            r = self._conv_norm(block.conv1, block.in1, y, 4, relu=True)
            r = self._conv_norm(block.conv2, block.in2, r, 4, relu=False)
            y = self._residual_add(y, r)
        y = self._conv_norm(m.deconv1, m.in4, y, 2, relu=True)  # -> (c2,2*ceil(H/4),2*ceil(W/4))
        y = self._conv_norm(m.deconv2, m.in5, y, 1, relu=True)  # -> (c1,4*ceil(H/4),4*ceil(W/4))
        out = torch.empty(3, h, w, dtype=torch.float32)
        # deconv3 is computed only on the (H,W) crop: (c1,4*ceil(H/4),...) -> (3,H,W)
        for rows, cols, t in self._conv_tiles(m.deconv3, y, 1, crop=(h, w)):
            out[:, rows, cols] = t.clamp_(0.0, 255.0).cpu()
        return out

    def _conv_tiles(self, layer: ConvLayer, src: _Map, factor: int, crop: tuple[int, int] | None = None):
        """Yield (rows, cols, (C_out,h,w) float32 on device) covering the conv's output."""
        c_in, h_in, w_in = src.raw.shape
        h_out, w_out = crop or (_out_len(h_in, layer), _out_len(w_in, layer))
        step = _layer_step(self.tile, factor)
        weight = layer.conv2d.weight.detach().to(self.device, self.dtype)  # (C_out,C_in,k,k)
        bias = layer.conv2d.bias.detach().to(self.device, self.dtype)
        row_spans = _axis_spans(h_in, h_out, layer, step)
        col_spans = _axis_spans(w_in, w_out, layer, step)
        col_index = [None if cs.index is None else cs.index.to(self.device) for cs in col_spans]
        for rs in row_spans:
            r_idx = None if rs.index is None else rs.index.to(self.device)
            for cs, c_idx in zip(col_spans, col_index, strict=True):
                x = src.read(rs.band, cs.band, self.device)  # (C_in,band_h,band_w)
                # gather the padded/upsampled tile where needed: (C_in,band_h,band_w) -> (C_in,th,tw)
                if r_idx is not None:
                    x = x.index_select(1, r_idx)
                if c_idx is not None:
                    x = x.index_select(2, c_idx)
                # (C_in,th,tw) -> (1,C_in,th,tw) -> conv -> (1,C_out,h,w) -> (C_out,h,w)
                y = F.conv2d(x[None].to(self.dtype), weight, bias, stride=layer.stride)[0]
                yield rs.out, cs.out, y.float()

    def _conv_norm(self, layer: ConvLayer, norm: StyleInstanceNorm, src: _Map, factor: int, relu: bool) -> _Map:
        """Conv over all tiles into a host map; global instance-norm statistics become a lazy affine."""
        count, mean, m2 = 0, None, None
        raw = None
        for rows, cols, y in self._conv_tiles(layer, src, factor):
            if raw is None:
                h_out = _out_len(src.raw.shape[1], layer)
                w_out = _out_len(src.raw.shape[2], layer)
                raw = torch.empty(y.shape[0], h_out, w_out, dtype=self.storage_dtype)  # (C_out,H',W') host
            if self.storage_dtype == torch.float16 and float(y.abs().amax()) > _FP16_MAX:
                raise StyleportError("an activation overflows fp16 storage: use bf16 or fp32 storage")
            raw[:, rows, cols] = y.to("cpu", self.storage_dtype)
            # per-tile Welford in fp32, then Chan et al.'s parallel merge of (count, mean, M2) in float64
            var_b, mean_b = torch.var_mean(y.flatten(1), dim=1, correction=0)  # (C,h,w) -> (C,h*w) -> (C,)
            n_b = y.shape[1] * y.shape[2]
            mean_b, m2_b = mean_b.double(), var_b.double() * n_b
            if mean is None:
                count, mean, m2 = n_b, mean_b, m2_b
            else:
                total = count + n_b
                delta = mean_b - mean
                mean = mean + delta * (n_b / total)
                m2 = m2 + m2_b + delta.square() * (count * n_b / total)
                count = total
        var = m2 / count  # biased variance, as F.instance_norm
        gamma, beta = norm.weight.detach(), norm.bias.detach()
        if norm.num_styles > 1:
            # (S,) @ (S,C) -> (C,)
            gamma = self.sw @ gamma.to(self.device, torch.float64)
            beta = self.sw @ beta.to(self.device, torch.float64)
        gamma = gamma.to(self.device, torch.float64)
        beta = beta.to(self.device, torch.float64)
        scale = gamma / torch.sqrt(var + norm.eps)
        shift = beta - mean * scale
        return _Map(raw, scale.float(), shift.float(), relu)

    def _residual_add(self, x: _Map, r: _Map) -> _Map:
        """x + r, tile by tile, written over r's raw buffer (same (C,H,W) shape)."""
        _, h, w = r.raw.shape
        step = _layer_step(self.tile, 4)
        for a in range(0, h, step):
            rows = slice(a, min(a + step, h))
            for b in range(0, w, step):
                cols = slice(b, min(b + step, w))
                s = x.read(rows, cols, self.device) + r.read(rows, cols, self.device)
                if self.storage_dtype == torch.float16 and float(s.abs().amax()) > _FP16_MAX:
                    raise StyleportError("an activation overflows fp16 storage: use bf16 or fp32 storage")
                r.raw[:, rows, cols] = s.to("cpu", self.storage_dtype)
        return _Map(r.raw)


def check_tile(tile: object) -> None:
    """Raise UsageError unless ``tile`` is a valid tile size (call it before any work starts)."""
    if isinstance(tile, bool) or not isinstance(tile, int) or tile < MIN_TILE:
        raise UsageError(f"--tile must be an integer >= {MIN_TILE} pixels, got {tile!r}")


def _check_dtype(name: str, value: torch.dtype) -> None:
    if value not in FLOAT_DTYPES:
        allowed = ", ".join(str(d).removeprefix("torch.") for d in FLOAT_DTYPES)
        raise UsageError(f"tiled inference {name} must be one of {allowed}, got {value}")


def tiled_forward(
    model: TransformerNet,
    x: torch.Tensor,
    style_weights: torch.Tensor | None = None,
    tile: int = 512,
    device: str | torch.device | None = None,
    dtype: torch.dtype = torch.float32,
    storage_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """``model(x, style_weights)`` computed tile by tile; (B,3,H,W) RGB 0..255 -> (B,3,H,W) clamped.

    ``tile``: tile side in image pixels (>= 32); bounds the device working set, not the result.
    ``device``: where convs run (default: the model's device); activations stay in host RAM.
    ``dtype``: conv compute dtype (fp32, bf16, fp16). ``storage_dtype``: host activation storage
    (default fp32; bf16/fp16 halve host memory at some precision cost).
    """
    check_tile(tile)
    storage_dtype = storage_dtype or torch.float32
    _check_dtype("dtype", dtype)
    _check_dtype("storage dtype", storage_dtype)
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"expected an image batch of shape (B,3,H,W), got {tuple(x.shape)}")
    h, w = x.shape[-2:]
    side = min_image_side(model)
    if min(h, w) < side:
        raise ImageError(f"image is {w}x{h} pixels: the network needs at least {side}x{side}")
    device = torch.device(device) if device is not None else model.conv1.conv2d.weight.device
    sw = model._check_style_weights(x, style_weights)  # None or (B,S)
    outs = []
    with torch.inference_mode():
        for i in range(x.shape[0]):
            streamer = _Streamer(model, None if sw is None else sw[i], tile, device, dtype, storage_dtype)
            outs.append(streamer.run(x[i]))  # (3,H,W)
    return torch.stack(outs).to(device=x.device, dtype=x.dtype)  # B x (3,H,W) -> (B,3,H,W)
