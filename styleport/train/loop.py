"""The training loop: build everything from a TrainConfig, run (or resume) it, write checkpoints.

One step: a batch of content crops x (B,3,S,S) -> y = net.forward_raw(x, one-hot style weights)
-> perceptual loss against x and the precomputed style Grams -> Adam. Mixed precision: the network
runs under autocast (bf16 on CPUs with AVX-512 bf16 and on GPUs that have it, else fp16 with a
GradScaler on GPUs) with fp32 master weights; the frozen VGG is cast to that dtype once.

Resume restores weights, Adam, GradScaler, step and RNG states; the data order is a function of
(seed, step) (see data.py), so an interrupted run continues bit-identically on the same machine.
"""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import time
from pathlib import Path
from typing import Any

import torch

from styleport import checkpoints
from styleport.errors import CheckpointError, ImageError, UsageError
from styleport.images import load_image, pil_to_tensor
from styleport.model import ModelConfig, TransformerNet
from styleport.precision import native_cpu_bf16
from styleport.train import data, ddp, monitor, state, temporal
from styleport.train.config import TrainConfig
from styleport.train.losses import PerceptualLoss
from styleport.train.vgg import VGGFeatures, VGGWeights, layer_names, load_weights

# Test hook: SIGKILL this process right after the checkpoint of this step is on disk.
KILL_HOOK_ENV = "STYLEPORT_TEST_KILL_AFTER_CHECKPOINT"
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


class RawNet(torch.nn.Module):
    """Routes ``forward`` to ``forward_raw`` (unclamped, for gradients) so DDP's hooks see the call."""

    def __init__(self, net: TransformerNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor, style_weights: torch.Tensor | None) -> torch.Tensor:
        return self.net.forward_raw(x, style_weights)


def resolve_precision(requested: str, device: torch.device) -> str:
    """'auto': bf16 where the hardware does it natively, fp16 on older GPUs, else fp32."""
    if requested == "auto":
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "bf16" if device.type == "cpu" and native_cpu_bf16() else "fp32"
    if requested == "fp16" and device.type != "cuda":
        raise UsageError("--precision fp16 needs a CUDA device (use bf16 or fp32 on CPU)")
    return requested


def load_style(path: str, long_side: int) -> torch.Tensor:
    """Style image resized so its long side is ``long_side`` -> (1,3,h,w) float 0..255."""
    from PIL import Image

    img = load_image(path).rgb  # one-line ImageError for missing/corrupt/unsupported files
    scale = long_side / max(img.size)
    img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.Resampling.LANCZOS)
    return pil_to_tensor(img)


def style_metadata(config: TrainConfig) -> dict[str, Any]:
    names = list(config.style_names) or [Path(p).stem for p in config.styles]
    styles = [
        {"name": n, "source": Path(p).name, "license": config.style_license}
        for n, p in zip(names, config.styles, strict=True)
    ]
    return {"style_names": names, "styles": styles}


class Trainer:
    def __init__(self, config: TrainConfig, vgg: VGGWeights | None = None) -> None:
        self.config = config
        self.dist = ddp.from_env()
        self.device = ddp.device_for(self.dist, config.device)
        if config.threads:
            torch.set_num_threads(config.threads)
        self.precision = resolve_precision(config.precision, self.device)
        self.dtype = DTYPES[self.precision]
        self.run_dir = Path(config.run_dir)
        self.main = self.dist.is_main
        self.files, self.skipped = data.scan(config.data)
        world_batch = config.batch_size * self.dist.world
        self.total_steps = math.ceil(config.epochs * len(self.files) / world_batch) if config.epochs else config.steps
        styles = [load_style(p, config.style_size) for p in config.styles]
        vgg_weights = vgg or load_weights(config.vgg_weights)
        needed = set(config.content_layers) | set(config.style_layers)
        order = layer_names(vgg_weights.arch)
        missing = sorted(needed - set(order))
        if missing:
            raise UsageError(f"{vgg_weights.arch} has no layer(s) {', '.join(missing)} (have {', '.join(order)})")
        trunk = VGGFeatures(vgg_weights, max(needed, key=order.index)).to(self.device, self.dtype)
        if config.channels_last:
            trunk = trunk.to(memory_format=torch.channels_last)
        self.loss = PerceptualLoss(trunk, config.loss_config(), self.dtype)
        self.loss.set_styles([s.to(self.device) for s in styles])
        self.vgg_source = vgg_weights.source
        self.quality = self._quality_setup(styles, vgg_weights) if config.eval_every and self.main else None

        torch.manual_seed(config.seed)
        self.net = TransformerNet(ModelConfig(width=config.width, num_styles=len(styles)))
        with torch.no_grad():
            self.net.deconv3.conv2d.bias.fill_(127.5)  # start from mid-grey, not black: saves ~100 Adam steps
        self.init_record = state.load_initial_weights(self.net, config.init) if config.init else None
        self.net = self.net.to(self.device)
        if config.channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        # fused: one kernel per step for all parameters (CPU and CUDA), not ~10 ops per tensor
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=config.lr, fused=True)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.precision == "fp16")
        self.step, self.elapsed, self.decode_failures = 0, 0.0, 0
        if config.resume:
            self._resume(Path(config.resume))
        ddp.init(self.dist, self.device)
        self.model = ddp.wrap(RawNet(self.net), self.dist, self.device)
        if config.compile:
            _avoid_inductor_bf16_avx512_bug(self.device, self.dtype)
            self.model = torch.compile(self.model)

    # ---- checkpoints -------------------------------------------------------------------------

    def _resume(self, path: Path) -> None:
        ckpt = checkpoints.load(path)
        ts = ckpt.training_state
        if not ts:
            raise UsageError(f"{path}: has no training state to resume from (is it a final model file?)")
        needed = {"step": int, "elapsed": (int, float), "decode_failures": int, "optimizer": dict, "scaler": dict,
                  "rng": (dict, list, tuple), "trajectory": dict}  # fmt: skip
        for key, kind in needed.items():
            if not isinstance(ts.get(key), kind) or isinstance(ts.get(key), bool):
                raise CheckpointError(f"{path}: malformed training state: '{key}' is missing or of the wrong type")
        # A field missing from an older checkpoint had its TrainConfig default then.
        defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
        saved = {k: ts["trajectory"].get(k, defaults.get(k)) for k in self.config.trajectory()}
        mismatched = [k for k, v in self.config.trajectory().items() if _plain(saved[k]) != _plain(v)]
        if mismatched:
            was = ", ".join(f"{k}={saved[k]!r}" for k in mismatched)
            raise UsageError(f"{path}: cannot resume with different settings ({was} in the checkpoint)")
        try:
            self.net.load_state_dict({k: v.to(self.device) for k, v in ckpt.state_dict.items()})
            self.optimizer.load_state_dict(ts["optimizer"])
            self.scaler.load_state_dict(ts["scaler"])
            self.step, self.elapsed = int(ts["step"]), float(ts["elapsed"])
            self.decode_failures = int(ts["decode_failures"])
            state.restore_rng(ts["rng"])
        except (KeyError, ValueError, TypeError, RuntimeError, IndexError) as exc:
            detail = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            raise CheckpointError(f"{path}: malformed training state, cannot resume ({detail})") from None

    def _metadata(self, final_parts: dict[str, float]) -> dict[str, Any]:
        cfg = self.config
        training = {
            "steps": self.step,
            "image_size": cfg.image_size,
            "style_size": cfg.style_size,
            "batch_size": cfg.batch_size,
            "world_size": self.dist.world,
            "lr": cfg.lr,
            "seconds": round(self.elapsed, 1),
            "precision": self.precision,
            "loss_network": self.vgg_source if cfg.vgg_weights != "caffe" else "vgg19 (original Oxford/Caffe weights)",
            "content_layers": list(cfg.content_layers),
            "style_layers": list(cfg.style_layers),
            "weights": {
                "content": cfg.content_weight,
                "style": cfg.style_weight,
                "tv": cfg.tv_weight,
                "temporal": cfg.temporal_weight,
                "style_layers": {n: cfg.loss_config().layer_weight(n) for n in cfg.style_layers},
            },
            "final_losses": final_parts,
            "training_images": len(self.files),
            **({"init": self.init_record} if self.init_record else {}),
            "command": cfg.command,
        }
        return {**style_metadata(cfg), "training": training}

    def save(self, path: Path, parts: dict[str, float], with_state: bool, dtype: torch.dtype) -> None:
        training_state = None
        if with_state:
            training_state = {
                "step": self.step,
                "elapsed": self.elapsed,
                "decode_failures": self.decode_failures,
                "optimizer": self.optimizer.state_dict(),
                "scaler": self.scaler.state_dict(),
                "rng": state.capture_rng(),
                "trajectory": self.config.trajectory(),
            }
        checkpoints.save(path, self.net, self._metadata(parts), training_state, dtype=dtype)

    # ---- monitoring --------------------------------------------------------------------------

    def _preview_batch(self) -> torch.Tensor:
        """Fixed preview crops: the --preview photos, or 4 spread over the data; unreadable data files
        are skipped (and counted) like in training, the next readable file taking their place."""
        explicit = [Path(p) for p in self.config.previews]
        if explicit:
            candidates, wanted = explicit, len(explicit)
        else:
            wanted = min(4, len(self.files))
            spread = [i * len(self.files) // wanted for i in range(wanted)]
            candidates = [self.files[i] for i in dict.fromkeys([*spread, *range(len(self.files))])]
        crops = []
        for p in candidates:
            if len(crops) == wanted:
                break
            try:
                img = load_image(p).rgb
            except ImageError as exc:
                if explicit:
                    raise
                self.skipped.append((p, str(exc)))
                continue
            crops.append(data.center_crop(img, self.config.preview_size))
        if not crops:
            raise UsageError(f"{self.config.data}: no readable image for the previews")
        return torch.stack(crops)  # N x (3,P,P) -> (N,3,P,P)

    @torch.no_grad()
    def preview(self, photos: torch.Tensor) -> monitor.Image.Image:
        x = photos.to(self.device)
        rows = []
        for index in range(self.net.num_styles):
            sw = self.net.default_style_weights(index, x.shape[0])
            with torch.autocast(self.device.type, self.dtype, enabled=self.dtype != torch.float32):
                rows.append(self.net(x, sw).float().cpu())
        return monitor.preview_grid(photos, rows)

    def _quality_setup(self, styles: list[torch.Tensor], weights: VGGWeights):
        """Held-out photos (long side preview_size) and one QualityMeter per style (styleport.evaluate)."""
        from styleport.evaluate import QualityMeter
        from styleport.images import sample_photos
        from styleport.optimize_command import resize_long

        paths = self.config.eval_photos or sample_photos()
        photos = [pil_to_tensor(resize_long(load_image(p).rgb, self.config.preview_size)) for p in paths]
        names = style_metadata(self.config)["style_names"]
        meters = {n: QualityMeter(s, weights, self.device) for n, s in zip(names, styles, strict=True)}
        return photos, meters

    # ---- the loop ----------------------------------------------------------------------------

    def train_step(self, x: torch.Tensor, numbers: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        ids = numbers % self.net.num_styles  # round-robin styles, (B,)
        sw = None
        if self.net.num_styles > 1:
            sw = torch.nn.functional.one_hot(ids, self.net.num_styles).float().to(self.device)  # (B,) -> (B,S)
        self.optimizer.zero_grad(set_to_none=True)
        weight = self.config.temporal_weight
        if weight > 0:  # one pass over the crops and their synthetic next frames (temporal.py)
            x2, theta, mask = temporal.make_pair(x, self.config.seed, int(numbers[0]))
            x, sw2 = torch.cat([x, x2]), None if sw is None else torch.cat([sw, sw])  # (B,...) -> (2B,...)
        with torch.autocast(self.device.type, self.dtype, enabled=self.dtype != torch.float32):
            y = self.model(x, sw if weight == 0 else sw2)
        if weight > 0:
            (x, _), (y, y2) = x.chunk(2), y.chunk(2)  # (2B,3,H,W) -> 2 x (B,3,H,W)
        total, parts = self.loss(y, x, ids.to(self.device))
        parts["temporal"] = torch.zeros((), device=total.device)
        if weight > 0:
            term = temporal.temporal_loss(y, y2, theta, mask)
            total, parts["temporal"] = total + weight * term, term.detach()
        self.scaler.scale(total).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return total.detach(), parts

    def run(self) -> Path:
        cfg, main = self.config, self.main
        if main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        log = monitor.TrainLog(self.run_dir, self.step) if main else None
        tb = monitor.TensorBoard(self.run_dir) if main and cfg.tensorboard else None
        progress = monitor.Progress(self.step, self.total_steps, cfg.log_every, enabled=main and cfg.progress)
        photos = self._preview_batch() if main else None
        if self.skipped:
            progress.message(f"skipped {len(self.skipped)} unreadable/non-image files under {cfg.data}")
        progress.message(
            f"training on {len(self.files)} images, {self.total_steps} steps, {self.precision}, "
            f"{self.device}, world size {self.dist.world}, run dir {self.run_dir}"
        )
        loader = data.make_loader(
            self.files,
            cfg.data_config(),
            cfg.seed,
            cfg.batch_size,
            self.step,
            cfg.workers,
            self.dist.rank,
            self.dist.world,
        )
        kill_at = int(os.environ.get(KILL_HOOK_ENV, "-1"))
        base = self.dist.rank * cfg.batch_size
        parts_f: dict[str, float] = {}
        rate = 0.0
        started = self.elapsed  # --time-limit counts this invocation's training, also after --resume
        while self.step < self.total_steps:
            t0 = time.perf_counter()
            x, failures = next(loader)
            x = x.to(self.device, non_blocking=True)
            if cfg.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            first = self.step * cfg.batch_size * self.dist.world + base
            numbers = torch.arange(first, first + x.shape[0])
            total, parts = self.train_step(x, numbers)
            self.step += 1
            self.decode_failures += failures
            dt = time.perf_counter() - t0
            self.elapsed += dt
            inst = cfg.batch_size * self.dist.world / dt
            rate = inst if rate == 0.0 else 0.9 * rate + 0.1 * inst
            over = cfg.time_limit is not None and ddp.any_rank(self.elapsed - started >= 60 * cfg.time_limit, self.dist)
            if over and self.step < self.total_steps:
                progress.message(f"time limit of {cfg.time_limit:g} min reached at step {self.step}")
                self.total_steps = self.step
            at_log = self.step % cfg.log_every == 0 or self.step == self.total_steps
            if at_log:
                names = ("total", "content", "style", "tv", "temporal")
                stats = torch.stack([total.float(), *(parts[n].float() for n in names[1:])]).cpu()
                parts_f = dict(zip(names, ddp.mean_scalars(stats, self.dist).tolist(), strict=True))
                row = {
                    "step": self.step,
                    "seconds": round(self.elapsed, 3),
                    **parts_f,
                    "images_per_s": round(rate, 3),
                    "lr": cfg.lr,
                    "skipped_files": len(self.skipped) + self.decode_failures,
                }
                if main:
                    log.append(row)
                    weights = {"content": cfg.content_weight, "style": cfg.style_weight, "tv": cfg.tv_weight}
                    weights.update({"temporal": cfg.temporal_weight} if cfg.temporal_weight else {})
                    monitor.plot_losses(log.rows, weights, self.run_dir / "loss.png")
                    if tb:
                        tb.scalars(self.step, row)
            progress.update(self.step, parts_f or {"total": float(total), "content": 0.0, "style": 0.0}, rate)
            if main and (self.step % cfg.preview_every == 0 or self.step == self.total_steps):
                grid = self.preview(photos)
                monitor.save_png(grid, self.run_dir / "previews" / f"step_{self.step:06d}.png")
                if tb:
                    tb.image(self.step, grid)
            if self.quality and (self.step % cfg.eval_every == 0 or self.step == self.total_steps):
                from styleport.evaluate import evaluate_network

                scores = evaluate_network(self.net, *self.quality, self.device)
                log.append_eval(self.step, scores)
                for name, s in scores.items():
                    text = " ".join(f"{k}={v:.3f}" for k, v in s["style"].items())
                    progress.message(f"step {self.step} eval {name}: style distance {text}")
            if main and (self.step % cfg.checkpoint_every == 0 or self.step == self.total_steps):
                self.save(self.run_dir / "checkpoint.pth", parts_f, with_state=True, dtype=torch.float32)
                if self.step == kill_at:
                    os.kill(os.getpid(), signal.SIGKILL)
        progress.close()
        out = Path(cfg.output)
        if main:
            self.save(out, parts_f, with_state=False, dtype=DTYPES[cfg.save_dtype])
            progress.message(
                f"wrote {out} ({self.step} steps, {self.elapsed:.0f} s); log, loss.png and previews in {self.run_dir}"
            )
        if tb:
            tb.close()
        ddp.barrier(self.dist)
        ddp.shutdown(self.dist)
        return out


def _avoid_inductor_bf16_avx512_bug(device: torch.device, dtype: torch.dtype) -> None:
    """Compiled bf16 training on CPU: keep inductor's C++ kernels at 256-bit vectors.

    With torch 2.13's inductor, AVX-512 kernels give NaN gradients for this network under bf16
    autocast (every loss NaN from the first step; measured on an AVX-512/AMX Xeon). The same graph
    with 256-bit vectors, or without inductor (aot_eager), trains like eager. fp32 is unaffected.
    """
    if device.type == "cpu" and dtype != torch.float32:
        import torch._inductor.config as inductor_config

        inductor_config.cpp.simdlen = min(inductor_config.cpp.simdlen or 256, 256)


def _plain(value: Any) -> Any:
    """Tuples and lists compare equal after a checkpoint round trip."""
    return list(value) if isinstance(value, (tuple, list)) else value


def train(config: TrainConfig, vgg: VGGWeights | None = None) -> Path:
    return Trainer(config, vgg).run()
