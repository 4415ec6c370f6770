"""Width trade-off: size, FLOPs and inference latency of the style network at several widths.

    python bench/width_tradeoff.py [--widths 0.25,0.5,1.0] [--sizes 512,1080x1920] [--repeats 3]
    python bench/width_tradeoff.py --models w025.pth w05.pth w1.pth   # trained nets: adds their losses

Without --models, random-init stand-ins are timed (latency does not depend on the weights). For each
width: parameters, fp16 checkpoint size, forward GFLOPs per image size, and latency of torch eager
fp32, torch eager bf16 and ONNX Runtime fp32 (exported through styleport's real ONNX exporter).
Each (size, width, path) gets one untimed warm-up; then every repeat times every size, width and
path once in turn (interleaved, so load drift hits all alike). Medians and ranges are printed, with
each width's speed relative to width 1.0 (or the widest given). With --models, the final training
losses recorded in each checkpoint are printed too (same recipe and steps = comparable quality).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def load_nets(args, tmp: Path) -> list:
    """One loaded checkpoint per width: the given models, or saved (fp16) random-init stand-ins."""
    from styleport import checkpoints
    from styleport.testing import stand_in_net

    paths = list(args.models or [])
    for width in () if args.models else (float(w) for w in args.widths.split(",")):
        paths.append(tmp / f"w{width:g}.pth")
        checkpoints.save(paths[-1], stand_in_net(width=width), {"style_names": ["random"]}, dtype=torch.float16)
    nets = [checkpoints.load(p) for p in paths]
    widths = [label(c) for c in nets]
    if len(set(widths)) != len(widths):
        raise SystemExit(f"width_tradeoff: give one model per width (got {', '.join(widths)})")
    return nets


def label(ckpt) -> str:
    return f"width {ckpt.config.width:g}"


def sessions(ckpt, folder: Path) -> dict:
    """torch fp32, torch bf16 and ORT fp32 run functions for one checkpoint: (H,W,3) -> (H,W,3)."""
    from styleport.export import base as exporters
    from styleport.export.base import ExportRequest
    from styleport.export.pipeline import Job, export_one
    from styleport.precision import Precision
    from styleport.runtimes import base as runtimes
    from styleport.runtimes.torch import TorchRuntime

    model = ckpt.build("cpu")
    runs = {
        "torch fp32": TorchRuntime().session_for(model, "cpu", Precision.FP32).run,
        "torch bf16": TorchRuntime().session_for(model, "cpu", Precision.BF16).run,
    }
    runtime = runtimes.get("onnxruntime")
    reason = runtime.availability()
    if reason:
        print(f"  ORT fp32: SKIPPED ({reason})", file=sys.stderr)
        return runs
    exporter = exporters.get("onnx")
    job = Job(exporter, ExportRequest("onnx", Precision.FP32, (), (), {}), folder / f"{ckpt.path.stem}.onnx")
    artifact = export_one(model, ckpt, job, verify=False, verify_sizes=()).artifact
    runs["ORT fp32"] = runtime.open(artifact.path, device="cpu").run
    return runs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", default="0.25,0.5,1.0")
    ap.add_argument("--models", nargs="+", type=Path, help="trained checkpoints instead of random stand-ins")
    ap.add_argument("--sizes", default="512,1080x1920")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    from styleport.model import gflops, parameter_count
    from styleport.parity.command import parse_sizes

    sizes = parse_sizes(args.sizes)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; sizes {args.sizes}; {args.repeats} repeats")
    with tempfile.TemporaryDirectory() as tmp:
        nets = load_nets(args, Path(tmp))
        runs = {label(ckpt): sessions(ckpt, Path(tmp)) for ckpt in nets}
        rng = np.random.default_rng(0)
        images = {s: rng.uniform(0, 255, (s[0], s[1], 3)).astype(np.float32) for s in sizes}
        times: dict[tuple, list[float]] = {}
        for s in sizes:  # warm-up
            for paths in runs.values():
                for fn in paths.values():
                    fn(images[s])
        for _ in range(args.repeats):
            for s in sizes:
                for width, paths in runs.items():
                    for name, fn in paths.items():
                        t = time.perf_counter()
                        fn(images[s])
                        times.setdefault((s, width, name), []).append(time.perf_counter() - t)
        widest = label(nets[-1])
        print("\n| width | params | fp16 file | " + " | ".join(f"GFLOP {h}x{w}" for h, w in sizes) + " |")
        print("|---|---|---|" + "---|" * len(sizes))
        for ckpt in nets:
            model = ckpt.build("cpu")
            flops = " | ".join(f"{gflops(model, h, w):.1f}" for h, w in sizes)
            print(f"| {label(ckpt)} | {parameter_count(model):,} | {ckpt.path.stat().st_size / 1e6:.2f} MB | {flops} |")
        print(f"\n| size | width | path | median | range | speed vs {widest} |")
        print("|---|---|---|---|---|---|")
        for s in sizes:
            for width, paths in runs.items():
                for name in paths:
                    ts = times[(s, width, name)]
                    ratio = statistics.median(times[(s, widest, name)]) / statistics.median(ts)
                    print(
                        f"| {s[0]}x{s[1]} | {width} | {name} | {statistics.median(ts) * 1e3:.0f} ms "
                        f"| {min(ts) * 1e3:.0f}..{max(ts) * 1e3:.0f} | {ratio:.2f}x |"
                    )
        if args.models:
            print("\n| width | steps | final total | content | style |")
            print("|---|---|---|---|---|")
            for ckpt in nets:
                training = ckpt.metadata.get("training", {})
                final = training.get("final_losses", {})
                print(
                    f"| {label(ckpt)} | {training.get('steps', '?')} | {final.get('total', float('nan')):.3f} "
                    f"| {final.get('content', float('nan')):.3f} | {final.get('style', float('nan')):.3f} |"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
