"""Tiled vs untiled inference: time, peak host memory and PSNR against the untiled network.

Each mode runs in its own process so that peak RSS (ru_maxrss) belongs to that mode alone; the
reported figure is the peak minus the RSS just before the first forward (model, input and torch
already loaded). Also measures naive overlapping tiles with linear blending (each tile run
through the whole network, so each gets its own instance-norm statistics) to show why
styleport.tiling streams layers instead.

    python bench/tiling.py                       # 1024x768, width 1.0, random-init net
    python bench/tiling.py --size 2048x1536 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import subprocess
import sys
import time

import torch

MODES = (
    "untiled",
    "tiled-256",
    "tiled-512",
    "tiled-256-fp16store",
    "tiled-256-bf16",
    "untiled-bf16",
    "naive-blend-256",
)


def build(width: float, h: int, w: int) -> tuple[torch.nn.Module, torch.Tensor]:
    """A random-init net with output spread over 0..255 (as in tests/test_tiling.py), and a smooth image."""
    from styleport.model import ModelConfig, StyleInstanceNorm, TransformerNet

    torch.manual_seed(0)
    model = TransformerNet(ModelConfig(width=width)).eval()
    g = torch.Generator().manual_seed(0)
    coarse = torch.rand(1, 3, 6, 8, generator=g) * 255.0
    # (1,3,6,8) -> (1,3,H,W)
    x = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False)
    x = (x + torch.randn(1, 3, h, w, generator=g) * 8.0).clamp(0.0, 255.0)
    with torch.no_grad():
        for norm in model.modules():
            if isinstance(norm, StyleInstanceNorm):
                norm.weight.uniform_(0.5, 1.5)
                norm.bias.normal_(0.0, 0.3)
        raw = model.forward_raw(x[:, :, :128, :128])
        mean, std = raw.mean((0, 2, 3)), raw.std((0, 2, 3))  # (3,)
        conv = model.deconv3.conv2d
        conv.weight.mul_((60.0 / std)[:, None, None, None])
        conv.bias.copy_(128.0 - (mean - conv.bias) * (60.0 / std))
    return model, x


def naive_blend(model: torch.nn.Module, x: torch.Tensor, tile: int, overlap: int = 32) -> torch.Tensor:
    """Overlapping tiles, each through the full network, blended with linear ramps (the trap)."""
    _, _, h, w = x.shape
    out = torch.zeros_like(x)
    weight = torch.zeros(1, 1, h, w)
    step = tile - overlap
    for top in range(0, max(h - overlap, 1), step):
        for left in range(0, max(w - overlap, 1), step):
            b, r = min(top + tile, h), min(left + tile, w)
            y = model(x[:, :, top:b, left:r])  # (1,3,th,tw)
            ramp_h = torch.ones(b - top)
            ramp_w = torch.ones(r - left)
            ramp = torch.linspace(1.0 / (overlap + 1), 1.0, overlap)
            if top > 0:
                ramp_h[:overlap] = ramp
            if left > 0:
                ramp_w[:overlap] = ramp
            if b < h:
                ramp_h[-overlap:] = ramp.flip(0)
            if r < w:
                ramp_w[-overlap:] = ramp.flip(0)
            wt = ramp_h[:, None] * ramp_w[None, :]  # (th,) x (tw,) -> (th,tw)
            out[:, :, top:b, left:r] += y * wt
            weight[:, :, top:b, left:r] += wt
    return out / weight


def run_mode(mode: str, width: float, h: int, w: int, repeats: int) -> dict:
    from styleport.tiling import tiled_forward

    model, x = build(width, h, w)
    calls = {
        "untiled": lambda: model(x),
        "untiled-bf16": lambda: _bf16(model, x),
        "tiled-256": lambda: tiled_forward(model, x, tile=256),
        "tiled-512": lambda: tiled_forward(model, x, tile=512),
        "tiled-256-fp16store": lambda: tiled_forward(model, x, tile=256, storage_dtype=torch.float16),
        "tiled-256-bf16": lambda: tiled_forward(model, x, tile=256, dtype=torch.bfloat16),
        "naive-blend-256": lambda: naive_blend(model, x, 256),
    }
    base_kb = _rss_kb()
    times = []
    with torch.inference_mode():
        for _ in range(repeats):
            t0 = time.perf_counter()
            y = calls[mode]()
            times.append(time.perf_counter() - t0)
        peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        ref = model(x) if mode != "untiled" else y
    mse = float(((y.double() - ref.double()) ** 2).mean())
    psnr = math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)
    return {
        "mode": mode,
        "median_s": statistics.median(times),
        "times_s": [round(t, 3) for t in times],
        "peak_extra_mb": (peak_kb - base_kb) / 1024.0,
        "psnr_vs_untiled_db": psnr,
        "max_abs": float((y - ref).abs().max()),
    }


def _bf16(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.autocast("cpu", dtype=torch.bfloat16):
        return model(x).float()


def _rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1024x768", help="WxH")
    parser.add_argument("--width", type=float, default=1.0, help="network width multiplier")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    if args.child:
        print(json.dumps(run_mode(args.child, args.width, h, w, args.repeats)))
        return
    print(f"{args.size}, width {args.width}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'mode':<22}{'median s':>10}{'runs s':>24}{'peak +MB':>10}{'PSNR dB':>10}{'max abs':>10}")
    for mode in args.modes.split(","):
        cmd = [sys.executable, __file__, "--child", mode, "--size", args.size, "--width", str(args.width)]
        cmd += ["--repeats", str(args.repeats)]
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        r = json.loads(done.stdout.strip().splitlines()[-1])
        runs = ",".join(f"{t:.2f}" for t in r["times_s"])
        print(
            f"{r['mode']:<22}{r['median_s']:>10.2f}{runs:>24}{r['peak_extra_mb']:>10.0f}"
            f"{r['psnr_vs_untiled_db']:>10.1f}{r['max_abs']:>10.2g}"
        )


if __name__ == "__main__":
    main()
