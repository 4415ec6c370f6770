"""fp16 safety: measure activation ranges on photos; rescale exactly, or refuse the fp16 artifact.

fp16 holds magnitudes up to 65504. A conv whose output exceeds that becomes inf, and inf - inf in
the following instance norm becomes NaN: a black image on the phone with no error anywhere. Every
exporter that emits fp16 calls ``fp16_safe_model(model, request)`` and exports the model it returns.

Why the rescaling is exact. Instance norm is scale-invariant: IN(s*x) with eps*s^2 equals IN(x) with
eps, for any s > 0, because mean and deviation both scale by s. ReLU is positively homogeneous:
relu(s*x) = s*relu(x). So inside the network two kinds of groups can be scaled by a power of two s
(which changes no mantissa bit, only exponents) without changing the output:

* a conv feeding an IN: multiply the conv's weight and bias by s and the IN's eps by s^2;
* an IN's output feeding (through ReLU / residual adds) only convs that feed INs: multiply that IN's
  affine weight and bias by s, the consumer convs' biases by s and the consumers' IN eps by s^2.
  The residual stream (in3 and every block's in2 output, summed) is one such group.

Only the last conv (deconv3, producing the image) and the IN feeding it (in5) cannot be rescaled:
if they exceed the limit the fp16 artifact is refused with the layer and value.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from styleport.errors import StyleportError
from styleport.model import ConvLayer, StyleInstanceNorm, TransformerNet

FP16_MAX = 65504.0
HEADROOM = 16.0  # keep every activation below FP16_MAX / 16 ~ 4094: photos outside the calibration set vary
FP16_MIN_NORMAL = 6.104e-5
CALIBRATION_SIZE = (160, 160)  # instance norm makes ranges nearly size-independent


class Fp16RangeError(StyleportError):
    """The network's activations do not fit fp16 and cannot be rescaled exactly."""


@dataclasses.dataclass(frozen=True)
class Fp16Report:
    limit: float
    peak_before: Mapping[str, float]  # group -> max |activation| over the calibration images
    peak_after: Mapping[str, float]
    scales: Mapping[str, float]  # group -> power-of-two factor applied (only groups that needed one)
    images: str  # "N photos" or "N synthetic images"

    def details(self) -> dict:
        worst = max(self.peak_before, key=self.peak_before.get)
        return {
            "fp16_limit": self.limit,
            "fp16_peak_before": {"group": worst, "value": round(self.peak_before[worst], 3)},
            "fp16_peak_after": round(max(self.peak_after.values()), 3),
            "fp16_rescaled": dict(self.scales),
            "fp16_calibration": self.images,
        }


@dataclasses.dataclass(frozen=True)
class _ConvGroup:
    """A conv feeding an IN (or the output when norm is None)."""

    name: str
    conv: ConvLayer
    norm: StyleInstanceNorm | None


@dataclasses.dataclass(frozen=True)
class _NormGroup:
    """IN outputs scaled together, and the (conv, IN) pairs that consume them."""

    name: str
    norms: tuple[StyleInstanceNorm, ...]
    consumers: tuple[_ConvGroup, ...]
    watch: tuple[torch.nn.Module, ...]  # modules whose outputs carry this group's activations


def _groups(model: TransformerNet) -> tuple[list[_ConvGroup], list[_NormGroup]]:
    m = model
    blocks = m.residual_blocks()
    convs = [
        _ConvGroup("conv1", m.conv1, m.in1),
        _ConvGroup("conv2", m.conv2, m.in2),
        _ConvGroup("conv3", m.conv3, m.in3),
    ]
    for i, b in enumerate(blocks, 1):
        convs += [_ConvGroup(f"res{i}.conv1", b.conv1, b.in1), _ConvGroup(f"res{i}.conv2", b.conv2, b.in2)]
    convs += [
        _ConvGroup("deconv1", m.deconv1, m.in4),
        _ConvGroup("deconv2", m.deconv2, m.in5),
        _ConvGroup("deconv3", m.deconv3, None),
    ]
    by = {g.name: g for g in convs}
    stream = tuple(by[f"res{i}.conv1"] for i in range(1, len(blocks) + 1)) + (by["deconv1"],)
    norms = [
        _NormGroup("in1", (m.in1,), (by["conv2"],), (m.in1,)),
        _NormGroup("in2", (m.in2,), (by["conv3"],), (m.in2,)),
        _NormGroup("stream", (m.in3,) + tuple(b.in2 for b in blocks), stream, (m.in3, *blocks)),
        _NormGroup("in4", (m.in4,), (by["deconv2"],), (m.in4,)),
        _NormGroup("in5", (m.in5,), (), (m.in5,)),  # feeds the output conv: cannot be rescaled
    ]
    norms[3:3] = [
        _NormGroup(f"res{i}.in1", (b.in1,), (by[f"res{i}.conv2"],), (b.in1,)) for i, b in enumerate(blocks, 1)
    ]
    return convs, norms


def activation_peaks(
    model: TransformerNet, images: Sequence[np.ndarray], styles: Sequence[torch.Tensor | None]
) -> dict[str, float]:
    """Max |activation| per group over images x styles, fp32, measured with forward hooks."""
    convs, norms = _groups(model)
    peaks: dict[str, float] = {g.name: 0.0 for g in [*convs, *norms]}
    hooks = []

    def track(name):
        def hook(_module, _inputs, output):
            peaks[name] = max(peaks[name], float(output.detach().abs().max()))

        return hook

    for g in convs:
        hooks.append(g.conv.conv2d.register_forward_hook(track(g.name)))  # pre-IN conv output
    for g in norms:
        hooks.extend(w.register_forward_hook(track(g.name)) for w in g.watch)
    try:
        with torch.inference_mode():
            for img in images:
                x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None]  # (H,W,3) -> (1,3,H,W)
                for sw in styles:
                    model.forward_raw(x, sw)
    finally:
        for h in hooks:
            h.remove()
    return peaks


def _pow2_factor(peak: float, limit: float) -> float:
    """Largest power of two s <= 1 with peak * s <= limit."""
    return 1.0 if peak <= limit else 2.0 ** -math.ceil(math.log2(peak / limit))


def _scale_norm_eps(norm: StyleInstanceNorm, s: float) -> None:
    norm.eps = norm.eps * s * s  # instance attribute shadows the class default


def rescale(model: TransformerNet, peaks: Mapping[str, float], limit: float) -> tuple[TransformerNet, dict[str, float]]:
    """A copy of ``model`` with every rescalable group brought under ``limit`` (see module docstring)."""
    model = copy.deepcopy(model)
    convs, norms = _groups(model)
    conv_peak = {g.name: peaks[g.name] for g in convs}
    scales: dict[str, float] = {}
    with torch.no_grad():
        for g in norms:
            s = _pow2_factor(peaks[g.name], limit)
            if s == 1.0 or not g.consumers:
                continue
            scales[g.name] = s
            for norm in g.norms:
                norm.weight.mul_(s)
                norm.bias.mul_(s)
            for c in g.consumers:  # conv(s*x) + s*b = s*conv(x): the consumer's output scales by s
                c.conv.conv2d.bias.mul_(s)
                _scale_norm_eps(c.norm, s)
                conv_peak[c.name] *= s
        for g in convs:
            s = _pow2_factor(conv_peak[g.name], limit)
            if s == 1.0 or g.norm is None:
                continue
            scales[g.name] = s
            g.conv.conv2d.weight.mul_(s)
            g.conv.conv2d.bias.mul_(s)
            _scale_norm_eps(g.norm, s)
    return model, scales


def style_list(model: TransformerNet) -> list[torch.Tensor | None]:
    return [model.default_style_weights(i) for i in range(model.num_styles)] if model.num_styles > 1 else [None]


def make_fp16_safe(
    model: TransformerNet, images: Sequence[np.ndarray], label: str = "", headroom: float = HEADROOM
) -> tuple[TransformerNet, Fp16Report]:
    """(model to export in fp16, report). Raises Fp16RangeError if it cannot be made safe."""
    limit = FP16_MAX / headroom
    styles = style_list(model)
    before = activation_peaks(model, images, styles)
    fixed, scales = rescale(model, before, limit)
    after = activation_peaks(fixed, images, styles) if scales else before
    over = {k: v for k, v in after.items() if v > limit}
    if over:
        worst = max(over, key=over.get)
        raise Fp16RangeError(
            f"fp16 refused: activation '{worst}' reaches {over[worst]:.0f} on {label or 'calibration images'}, "
            f"above the fp16 safety limit {limit:.0f} (fp16 max {FP16_MAX:.0f}), and it cannot be rescaled exactly; "
            "export fp32 instead"
        )
    if scales:
        _check_exact(model, fixed, images[0], styles[0])
        _check_underflow(model, fixed)
    return fixed, Fp16Report(limit, before, after, scales, label)


def _check_exact(original: TransformerNet, fixed: TransformerNet, image: np.ndarray, sw) -> None:
    """The rescaled network must produce the same image in fp32 (guards the algebra above)."""
    x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]  # (H,W,3) -> (1,3,H,W)
    with torch.inference_mode():
        diff = float((original(x, sw) - fixed(x, sw)).abs().max())
    if diff > 0.05:
        raise StyleportError(f"internal error: fp16 rescaling changed the fp32 output by {diff:.3g} (max abs)")


def _check_underflow(original: TransformerNet, fixed: TransformerNet) -> None:
    """Refuse if rescaling made fp16 storage lose precision (values pushed into fp16 subnormals).

    Rounding a tensor to fp16 normally errs by at most 2^-11 of its largest element; after a
    downscale by s, tiny values may fall into the subnormal range, where the error is absolute.
    Measured in the original units, the error must stay below 1e-3 of the tensor's max.
    """
    before = dict(original.named_parameters())
    for name, p in fixed.named_parameters():
        q = before[name].detach()
        peak = float(q.abs().max())
        if peak == 0.0:
            continue
        s = float(p.detach().abs().max()) / peak  # the scale applied to this tensor (1.0 if untouched)
        err = float((p.detach().half().float() / s - q).abs().max()) / peak
        if err > 1e-3:
            raise Fp16RangeError(
                f"fp16 refused: rescaling '{name}' to fit fp16 loses precision (relative error {err:.2g}); "
                "export fp32 instead"
            )


def fp16_safe_model(model: TransformerNet, calibration: Sequence) -> tuple[TransformerNet, Fp16Report]:
    """The one call for exporters emitting fp16: ``calibration`` is ``request.calibration_images``."""
    from styleport.export.calibration import calibration_set

    photos = list(calibration)
    images = calibration_set(photos, CALIBRATION_SIZE, count=8 if photos else 4)
    label = f"{len(images)} photos" if photos else f"{len(images)} synthetic images"
    return make_fp16_safe(model, images, label)
