"""CoreML export at every precision: package size, quality vs torch fp32, numpy-interpreter latency.

    python bench/coreml_precisions.py [MODEL.pth] [--size 256] [--photo PHOTO] [--io image|tensor] [--runs 3]

Without MODEL.pth a random-init width-1.0 network (norm affines randomised, output centred) is
used. Latency is the numpy MIL interpreter's (this is not Apple's runtime and says nothing about
device speed); the torch eager fp32 time of the same image is printed beside it.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from styleport import checkpoints
from styleport.export import base
from styleport.export.base import ExportRequest
from styleport.metrics import compare
from styleport.model import TransformerNet
from styleport.precision import Precision
from styleport.runtimes.coreml import CoreMLRuntime
from styleport.testing import stand_in_net

PRECISIONS = (Precision.FP32, Precision.FP16, Precision.INT8, Precision.PALETTE6, Precision.PALETTE4)


def random_net(seed: int = 0) -> TransformerNet:
    return stand_in_net(width=1.0, seed=seed)


def load_photo(path: Path | None, size: int) -> np.ndarray:
    if path is None:
        return np.random.default_rng(0).uniform(0, 255, size=(size, size, 3)).astype(np.float32)
    from styleport.export.calibration import images_at

    return images_at([path], [(size, size)])[0]


def timed(fn, runs: int) -> tuple[object, float]:
    times, out = [], None
    for _ in range(runs):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--photo", type=Path)
    parser.add_argument("--io", choices=("image", "tensor"), default="image")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="styleport-coreml-bench-") as tmp:
        tmp = Path(tmp)
        path = args.model or checkpoints.save(tmp / "random.pth", random_net(), {"style_names": ["random"]})
        ckpt = checkpoints.load(path)
        model = ckpt.build()
        image = load_photo(args.photo, args.size)
        x = torch.from_numpy(image).permute(2, 0, 1)[None]  # (H,W,3) -> (1,3,H,W)
        with torch.inference_mode():
            ref, torch_s = timed(lambda: model(x)[0].permute(1, 2, 0).numpy(), args.runs)  # -> (H,W,3)
        print(f"torch eager fp32 {args.size}x{args.size}: {torch_s * 1000:.0f} ms (median of {args.runs})", flush=True)
        print("| precision | size (MB) | PSNR (dB) | max abs | mean abs | interpreter (ms) |")
        print("|---|---|---|---|---|---|")
        exporter = base.get("coreml")
        for precision in PRECISIONS:
            request = ExportRequest("coreml", precision, ((args.size, args.size),), (), {"io": args.io})
            art = exporter.export(model, ckpt, tmp / exporter.filename("m", precision), request)
            session = CoreMLRuntime().open(art.path)
            out, run_s = timed(lambda s=session: s.run(image), args.runs)
            diff = compare(ref, out)
            print(
                f"| {precision} | {art.size_bytes / 1e6:.2f} | {diff.psnr:.1f} | {diff.max_abs:.3g} | "
                f"{diff.mean_abs:.3g} | {run_s * 1000:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
