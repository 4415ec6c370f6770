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


def load_nets(args, tmp: Path) -> list[tuple[str, Path]]:
    """(label, checkpoint path) per width: the given models, or saved random-init stand-ins."""
    from styleport import checkpoints
    from styleport.testing import stand_in_net

    if args.models:
        return [(f"width {checkpoints.load(p).config.width:g}", Path(p)) for p in args.models]
    out = []
    for width in (float(w) for w in args.widths.split(",")):
        path = tmp / f"w{width:g}.pth"
        checkpoints.save(path, stand_in_net(width=width), {"style_names": ["random"]}, dtype=torch.float16)
        out.append((f"width {width:g}", path))
    return out


def sessions(path: Path, folder: Path) -> dict:
    """torch fp32, torch bf16 and ORT fp32 run functions for one checkpoint: (H,W,3) -> (H,W,3)."""
    from styleport import checkpoints
    from styleport.export import base as exporters
    from styleport.export.base import ExportRequest
    from styleport.export.pipeline import Job, export_one
    from styleport.precision import Precision
    from styleport.runtimes import base as runtimes
    from styleport.runtimes.torch import TorchRuntime

    ckpt = checkpoints.load(path)
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
    job = Job(exporter, ExportRequest("onnx", Precision.FP32, (), (), {}), folder / f"{path.stem}.onnx")
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
    from styleport import checkpoints
    from styleport.model import gflops, parameter_count
    from styleport.parity.command import parse_sizes

    sizes = parse_sizes(args.sizes)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; sizes {args.sizes}; {args.repeats} repeats")
    with tempfile.TemporaryDirectory() as tmp:
        nets = load_nets(args, Path(tmp))
        runs = {label: sessions(path, Path(tmp)) for label, path in nets}
        rng = np.random.default_rng(0)
        images = {s: rng.uniform(0, 255, (s[0], s[1], 3)).astype(np.float32) for s in sizes}
        times: dict[tuple, list[float]] = {}
        for s in sizes:  # warm-up
            for label in runs:
                for fn in runs[label].values():
                    fn(images[s])
        for _ in range(args.repeats):
            for s in sizes:
                for label in runs:
                    for name, fn in runs[label].items():
                        t = time.perf_counter()
                        fn(images[s])
                        times.setdefault((s, label, name), []).append(time.perf_counter() - t)
        widest = nets[-1][0]
        print("\n| width | params | fp16 file | " + " | ".join(f"GFLOP {h}x{w}" for h, w in sizes) + " |")
        print("|---|---|---|" + "---|" * len(sizes))
        for label, path in nets:
            ckpt = checkpoints.load(path)
            model = ckpt.build("cpu")
            flops = " | ".join(f"{gflops(model, h, w):.1f}" for h, w in sizes)
            print(f"| {label} | {parameter_count(model):,} | {path.stat().st_size / 1e6:.2f} MB | {flops} |")
        print(f"\n| size | width | path | median | range | speed vs {widest} |")
        print("|---|---|---|---|---|---|")
        for s in sizes:
            for label in runs:
                for name in runs[label]:
                    ts = times[(s, label, name)]
                    ratio = statistics.median(times[(s, widest, name)]) / statistics.median(ts)
                    print(
                        f"| {s[0]}x{s[1]} | {label} | {name} | {statistics.median(ts) * 1e3:.0f} ms "
                        f"| {min(ts) * 1e3:.0f}..{max(ts) * 1e3:.0f} | {ratio:.2f}x |"
                    )
        if args.models:
            print("\n| width | steps | final total | content | style |")
            print("|---|---|---|---|---|")
            for label, path in nets:
                training = checkpoints.load(path).metadata.get("training", {})
                final = training.get("final_losses", {})
                print(
                    f"| {label} | {training.get('steps', '?')} | {final.get('total', float('nan')):.3f} "
                    f"| {final.get('content', float('nan')):.3f} | {final.get('style', float('nan')):.3f} |"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
