"""Perceptual losses (Johnson et al. 2016): content (feature MSE), style (Gram MSE), total variation.

Gram = F F^T / (C*H*W). Each term is a *relative* squared error, so that the weights mean the same
for any loss network, layer or style image: content = MSE(f(y), f(x)) / mean(f(x)^2) per layer;
style = sum over layers of MSE(G(y), T) / mean(T^2), T the style's Gram target. (Unnormalized, as
in pytorch/examples, the caffe VGG19's relu4_1 Gram error is ~600x relu1_1's and the style term
degenerates into relu4_1-sized blobs; see the trainer's README notes.) Multi-style (Dumoulin et al.
2017): one Gram target set per style, and each sample is compared with its own style's targets.

Speed: the style Grams of the style images are computed once; content features of the input are
computed without autograd and only up to the deepest content layer; the loss network may run in
bf16/fp16 (its Grams are accumulated in fp32).
"""

from __future__ import annotations

import dataclasses
import math

import torch

from styleport.train.vgg import VGGFeatures


@dataclasses.dataclass(frozen=True)
class LossConfig:
    content_layers: tuple[str, ...] = ("relu2_2",)
    style_layers: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
    content_weight: float = 1.0
    style_weight: float = 1.0
    tv_weight: float = 0.0
    style_layer_weights: tuple[float, ...] = ()  # one per style layer; () = all 1

    def __post_init__(self) -> None:
        if not self.content_layers or not self.style_layers:
            raise ValueError("at least one content layer and one style layer are needed")
        weights = (self.content_weight, self.style_weight, self.tv_weight, *self.style_layer_weights)
        if not all(math.isfinite(w) and w >= 0 for w in weights):
            raise ValueError("loss weights must be finite and >= 0")
        if self.style_layer_weights and len(self.style_layer_weights) != len(self.style_layers):
            raise ValueError(
                f"{len(self.style_layer_weights)} --style-layer-weights for {len(self.style_layers)} style layers"
            )

    def layer_weight(self, layer: str) -> float:
        """The weight of one style layer's relative Gram error (1 unless --style-layer-weights says)."""
        if not self.style_layer_weights:
            return 1.0
        return self.style_layer_weights[self.style_layers.index(layer)]


def gram(features: torch.Tensor) -> torch.Tensor:
    """(B,C,H,W) -> (B,C,C) float32: F F^T / (C*H*W).

    Reads the features in their memory layout: a channels_last tensor is already (B,HW,C) in
    memory, so it is viewed, not copied (a reshape to (B,C,HW) would copy every style layer).
    """
    b, c, h, w = features.shape
    if features.is_contiguous(memory_format=torch.channels_last) and not features.is_contiguous():
        rows = features.permute(0, 2, 3, 1).reshape(b, h * w, c)  # (B,C,H,W) channels_last -> (B,HW,C), a view
    else:
        rows = features.reshape(b, c, h * w).transpose(1, 2)  # (B,C,H,W) -> (B,C,HW) -> (B,HW,C), a view
    return _Gram.apply(rows).float() / (c * h * w)


class _Gram(torch.autograd.Function):
    """rows (B,N,C) -> rows^T rows (B,C,C), with the symmetric backward d/d rows = rows (g + g^T).

    Autograd through ``bmm(rows^T, rows)`` would run two bmms (one per operand) and add a
    transposed gradient to a contiguous one (a strided add: measured ~10x a plain add on a
    relu1_1-sized map); this backward is one bmm whose result has the rows' own layout.
    """

    @staticmethod
    def forward(ctx, rows: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(rows)
        return torch.bmm(rows.transpose(1, 2), rows)  # (B,C,N) @ (B,N,C) -> (B,C,C)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (rows,) = ctx.saved_tensors
        return torch.bmm(rows, (grad + grad.transpose(1, 2)).to(rows.dtype))  # (B,N,C) @ (B,C,C) -> (B,N,C)


def total_variation(y: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between neighbouring pixels of (B,3,H,W)."""
    dh = y[:, :, 1:, :] - y[:, :, :-1, :]
    dw = y[:, :, :, 1:] - y[:, :, :, :-1]
    return dh.float().pow(2).mean() + dw.float().pow(2).mean()


def _relative_mse(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE(features, target) / mean(target^2), in the features' dtype with fp32 accumulation.

    No fp32 copies of the (B,C,H,W) maps: the difference and square stay in the loss network's
    dtype (bf16 under mixed precision, like the convs that made them); the means accumulate in fp32.
    """
    mse = (features - target).pow(2).mean(dtype=torch.float32)
    return mse / target.pow(2).mean(dtype=torch.float32).clamp_min(1e-12)


class PerceptualLoss(torch.nn.Module):
    """``forward(y, x, style_ids) -> (total, {"content", "style", "tv"})``.

    ``y``: stylized batch (B,3,H,W) 0..255 (with grad); ``x``: the content batch; ``style_ids``:
    (B,) long, the style each sample is trained towards. ``set_styles`` precomputes the Gram
    targets: one (S,C,C) tensor per style layer.
    """

    def __init__(self, vgg: VGGFeatures, config: LossConfig, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.vgg, self.config, self.dtype = vgg, config, dtype
        self.targets: dict[str, torch.Tensor] = {}
        self.scales: dict[str, torch.Tensor] = {}
        self.all_layers = tuple(dict.fromkeys(config.style_layers + config.content_layers))

    @torch.no_grad()
    def set_styles(self, styles: list[torch.Tensor]) -> None:
        """styles: S tensors (1,3,h,w) RGB 0..255 (sizes may differ). Stores (S,C,C) targets per layer."""
        per_layer: dict[str, list[torch.Tensor]] = {n: [] for n in self.config.style_layers}
        for style in styles:
            feats = self.vgg(self._cast(style), self.config.style_layers)
            for name in self.config.style_layers:
                per_layer[name].append(gram(feats[name])[0])  # (1,C,C) -> (C,C)
        self.targets = {n: torch.stack(gs) for n, gs in per_layer.items()}  # S x (C,C) -> (S,C,C)
        # 1 / mean(T^2) per style and layer: (S,C,C) -> (S,)
        self.scales = {n: 1.0 / t.pow(2).mean(dim=(1, 2)).clamp_min(1e-12) for n, t in self.targets.items()}

    def _cast(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.dtype)
        return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x

    def forward(
        self, y: torch.Tensor, x: torch.Tensor, style_ids: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if not self.targets:
            raise RuntimeError("set_styles() must be called before computing the loss")
        cfg = self.config
        with torch.no_grad():
            content_targets = self.vgg(self._cast(x), cfg.content_layers)
        feats = self.vgg(self._cast(y), self.all_layers)
        content = sum(_relative_mse(feats[n], content_targets[n]) for n in cfg.content_layers)
        style = sum(cfg.layer_weight(n) * self._style_term(gram(feats[n]), n, style_ids) for n in cfg.style_layers)
        tv = total_variation(y) if cfg.tv_weight > 0 else y.new_zeros((), dtype=torch.float32)
        total = cfg.content_weight * content + cfg.style_weight * style + cfg.tv_weight * tv
        return total, {"content": content.detach(), "style": style.detach(), "tv": tv.detach()}

    def _style_term(self, g: torch.Tensor, layer: str, style_ids: torch.Tensor) -> torch.Tensor:
        """(B,C,C) Grams vs each sample's own style target -> relative squared error averaged over B."""
        err = (g - self.targets[layer][style_ids]).pow(2).mean(dim=(1, 2))  # (B,C,C) -> (B,)
        return (err * self.scales[layer][style_ids]).mean()
