"""Quality numbers for a stylized image, measured with the original VGG19 (fp32).

For an output ``y`` made from photo ``x`` towards painting ``s``:

- style distance at layer l:   ||G_l(y) - G_l(s)||_F / ||G_l(x) - G_l(s)||_F
  (1.0: no closer to the painting's texture statistics than the photo was; 0: the painting's);
- content distance at layer l: ||F_l(y) - F_l(x)||_F / ||F_l(x)||_F
  (0: the photo's features unchanged; ~1: as far from them as their own size).

G is the Gram of ``styleport.train.losses.gram`` (F F^T / (C*H*W)), so the painting may have any
size; its pixel size sets the texture scale the numbers reward, so use the size the network was
trained with (``--style-size`` of ``styleport train``). ``QualityMeter`` holds the VGG and the
painting's Grams, for ``styleport evaluate`` and for the trainer's ``--eval-every``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import torch

from styleport.train.losses import gram
from styleport.train.vgg import VGGFeatures, VGGWeights, layer_names, load_caffe_vgg19

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYERS = ("relu2_2", "relu4_2")


class QualityMeter:
    """``measure(output, photo) -> {"style": {layer: d}, "content": {layer: d}}`` for one painting."""

    def __init__(self, style: torch.Tensor, weights: VGGWeights | None = None, device: str | torch.device = "cpu"):
        """style: (1,3,h,w) RGB 0..255 at the size whose texture scale should count."""
        weights = weights or load_caffe_vgg19()
        order = layer_names(weights.arch)
        self.layers = tuple(sorted(set(STYLE_LAYERS + CONTENT_LAYERS), key=order.index))
        self.device = torch.device(device)
        self.vgg = VGGFeatures(weights, self.layers[-1]).to(self.device)  # fp32: these are measurements
        self.style_grams = self.grams(style)

    @torch.no_grad()
    def features(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.vgg(x.to(self.device, torch.float32), self.layers)

    def grams(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.features(x)
        return {n: gram(feats[n])[0] for n in STYLE_LAYERS}  # (1,C,C) -> (C,C)

    @torch.no_grad()
    def measure(self, output: torch.Tensor, photo: torch.Tensor) -> dict[str, dict[str, float]]:
        """output, photo: (1,3,H,W) RGB 0..255 (same size)."""
        fy, fx = self.features(output), self.features(photo)
        style, content = {}, {}
        for n in STYLE_LAYERS:
            gy, gx, gs = gram(fy[n])[0], gram(fx[n])[0], self.style_grams[n]
            style[n] = float(torch.linalg.norm(gy - gs) / torch.linalg.norm(gx - gs).clamp_min(1e-12))
        for n in CONTENT_LAYERS:
            content[n] = float(torch.linalg.norm(fy[n] - fx[n]) / torch.linalg.norm(fx[n]).clamp_min(1e-12))
        return {"style": style, "content": content}


def score_cells(scores: Mapping[str, Mapping[str, float]]) -> list[str]:
    """A report entry's style distances (STYLE_LAYERS) then content distances (CONTENT_LAYERS), as table cells."""
    style, content = scores["style"], scores["content"]
    return [f"{style[n]:.2f}" for n in STYLE_LAYERS] + [f"{content[n]:.2f}" for n in CONTENT_LAYERS]


def mean_scores(scores: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Per-layer means over photos of ``QualityMeter.measure`` results."""
    return {
        kind: {layer: sum(s[kind][layer] for s in scores) / len(scores) for layer in scores[0][kind]}
        for kind in ("style", "content")
    }


def style_distances(
    output: torch.Tensor, photo: torch.Tensor, style: torch.Tensor, weights: VGGWeights | None = None
) -> dict[str, dict[str, float]]:
    """One-off ``QualityMeter(style).measure(output, photo)``; build a QualityMeter to measure many."""
    return QualityMeter(style, weights).measure(output, photo)


def optimized_reference(photo: torch.Tensor, style: torch.Tensor, steps: int, weights: VGGWeights,
                        device: str | torch.device = "cpu", cache: Path | None = None,
                        precision: str = "auto") -> torch.Tensor:  # fmt: skip
    """The ``stylize --optimize`` result for (photo, style) as uint8-rounded (1,3,H,W) 0..255.

    Cached as a PNG under ``cache`` keyed by the pixels, the steps and the optimizer settings, so
    evaluating several networks of one painting (or re-running a report) optimizes once.
    """
    from PIL import Image

    from styleport.fileutil import atomic_output
    from styleport.images import pil_to_tensor, tensor_to_pil
    from styleport.optimize import FP32_WARMUP, OptimizeConfig, optimize

    config = OptimizeConfig(steps=steps, precision=precision)
    key = hashlib.sha256()
    for t in (photo, style):
        key.update(str(tuple(t.shape)).encode())
        key.update(t.to(torch.uint8).contiguous().numpy().tobytes())
    key.update(f"{config!r} warmup={FP32_WARMUP} v1".encode())  # bump v1 when optimize() changes
    path = cache / f"{key.hexdigest()[:24]}.png" if cache else None
    if path is not None and path.is_file():
        try:
            with Image.open(path) as img:
                return pil_to_tensor(img.convert("RGB"))
        except OSError:
            pass  # a damaged cache entry is recomputed
    result, _ = optimize(photo, [style], config, weights, device)
    img = tensor_to_pil(result)
    if path is not None:
        try:
            with atomic_output(path) as tmp:
                img.save(tmp, format="PNG")
        except OSError:
            pass  # a read-only cache costs a recomputation next time
    return pil_to_tensor(img)


@torch.no_grad()
def evaluate_network(net, photos: list[torch.Tensor], meters: dict[str, QualityMeter], device: torch.device) -> dict:
    """Mean distances of a TransformerNet's fp32 outputs on ``photos`` (each (1,3,H,W) 0..255), per style.

    ``meters``: style name -> QualityMeter, in the network's style order. Returns
    {name: {"style": {layer: d}, "content": {layer: d}}}: what ``styleport train --eval-every`` logs.
    """
    out = {}
    for index, (name, meter) in enumerate(meters.items()):
        sw = net.default_style_weights(index)
        scores = []
        for x in photos:
            y = net(x.to(device), sw).round()  # 8-bit rounding, as a saved image
            scores.append(meter.measure(y, x))
        out[name] = mean_scores(scores)
    return out
