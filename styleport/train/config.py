"""Training settings: one frozen dataclass filled by the CLI, plus named presets.

Loss weights multiply relative errors (losses.py), so they do not depend on the loss network's
input scale or on which layers are used; raise --style-weight for stronger stylization.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from styleport.train.data import DataConfig
from styleport.train.losses import LossConfig

PRECISIONS = ("auto", "fp32", "bf16", "fp16")

# Fields that change the training trajectory: a resumed run must match them exactly.
TRAJECTORY_FIELDS = (
    "styles",
    "image_size",
    "style_size",
    "batch_size",
    "lr",
    "width",
    "seed",
    "content_layers",
    "style_layers",
    "content_weight",
    "style_weight",
    "style_layer_weights",
    "tv_weight",
    "vgg_weights",
    "precision",
    "max_scale",
    "temporal_weight",
    "init",
)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    styles: tuple[str, ...]
    data: str
    output: str
    run_dir: str
    style_names: tuple[str, ...] = ()
    style_license: str = "unknown"
    image_size: int = 256
    style_size: int = 512  # long side of each style image, in pixels
    batch_size: int = 4
    lr: float = 1e-3
    steps: int = 40000
    epochs: float | None = None  # overrides steps once the data size is known
    time_limit: float | None = None  # minutes: stop (and save) after the first step past this much training
    # time in this invocation (a --resume gets the full limit again)
    width: float = 1.0
    seed: int = 0
    content_layers: tuple[str, ...] = ("relu2_2",)
    style_layers: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
    content_weight: float = 1.0
    style_layer_weights: tuple[float, ...] = ()  # one per style layer (default: all 1)
    style_weight: float = 1.0  # both terms are relative errors (see losses.py), so 1:1 is a balanced start
    tv_weight: float = 0.0
    temporal_weight: float = 0.0  # stability under small motion + noise (temporal.py); 0 = off
    init: str | None = None  # fine-tune: start from this model's weights
    max_scale: float = 1.25
    vgg_weights: str = "caffe"
    precision: str = "auto"
    channels_last: bool = True
    compile: bool = False
    device: str = "auto"
    workers: int = 2
    threads: int | None = None
    log_every: int = 10
    preview_every: int = 500
    checkpoint_every: int = 1000
    previews: tuple[str, ...] = ()  # fixed preview photos; default: 4 spread over the data
    preview_size: int = 256
    eval_every: int | None = None  # steps between quality measurements (styleport.evaluate) in log.jsonl
    eval_photos: tuple[str, ...] = ()  # held-out photos for them; default: the bundled sample photos
    save_dtype: str = "fp32"
    tensorboard: bool = False
    progress: bool = True
    resume: str | None = None  # path of a checkpoint with training state
    command: str = ""

    def __post_init__(self) -> None:
        if not self.styles:
            raise ValueError("at least one --style image is needed")
        if self.style_names and len(self.style_names) != len(self.styles):
            raise ValueError(f"{len(self.style_names)} --style-name values for {len(self.styles)} --style images")
        if self.image_size < 16 or self.image_size % 4:
            raise ValueError(f"--image-size must be a multiple of 4 and >= 16, got {self.image_size}")
        if self.style_size < 16:
            raise ValueError(f"--style-size must be >= 16, got {self.style_size}")
        if self.batch_size < 1 or self.steps < 1 or self.lr <= 0:
            raise ValueError("--batch-size and --steps must be >= 1 and --lr > 0")
        if self.epochs is not None and self.epochs <= 0:
            raise ValueError("--epochs must be > 0")
        if self.time_limit is not None and self.time_limit <= 0:
            raise ValueError("--time-limit must be > 0 minutes")
        if self.precision not in PRECISIONS:
            raise ValueError(f"--precision must be one of {', '.join(PRECISIONS)}")
        if self.save_dtype not in ("fp32", "fp16"):
            raise ValueError("--save-dtype must be fp32 or fp16")
        if min(self.log_every, self.preview_every, self.checkpoint_every) < 1:
            raise ValueError("--log-every, --preview-every and --checkpoint-every must be >= 1")
        if self.eval_every is not None and self.eval_every < 1:
            raise ValueError("--eval-every must be >= 1")
        if not (math.isfinite(self.temporal_weight) and self.temporal_weight >= 0):
            raise ValueError(f"--temporal-weight must be a finite number >= 0, got {self.temporal_weight}")
        if self.workers < 0:
            raise ValueError("--workers must be >= 0")
        self.loss_config()  # validates layers and weights

    def loss_config(self) -> LossConfig:
        return LossConfig(
            content_layers=self.content_layers,
            style_layers=self.style_layers,
            content_weight=self.content_weight,
            style_weight=self.style_weight,
            tv_weight=self.tv_weight,
            style_layer_weights=self.style_layer_weights,
        )

    def data_config(self) -> DataConfig:
        return DataConfig(image_size=self.image_size, max_scale=self.max_scale)

    def trajectory(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in TRAJECTORY_FIELDS}


# Presets set defaults; explicit command-line flags still win.
PRESETS: dict[str, dict[str, Any]] = {
    # Johnson et al.: 256 px, batch 4, Adam 1e-3, ~2 COCO epochs = 40k steps.
    "paper": dict(image_size=256, style_size=512, batch_size=4, lr=1e-3, steps=40000, width=1.0),
    # A few CPU-minutes on a handful of photos: small crops, half-width network.
    "quick": dict(
        image_size=128,
        style_size=256,
        batch_size=2,
        lr=2e-3,
        steps=300,
        width=0.5,
        preview_every=100,
        checkpoint_every=100,
        preview_size=128,
    ),
}
