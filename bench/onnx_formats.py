"""Measure ONNX / ORT export quality and size on a width-1.0 network (numbers behind tolerances.py).

    python bench/onnx_formats.py [MODEL.pth] [--photos DIR]

Without a model, a random-init width-1.0 net with random instance-norm affines and an output
conv scaled around mid-grey (so the output spans 0..255) stands in for a trained one. Prints one
summary line per artifact and the int8 candidates' PSNRs; then times torch and every artifact at 256 px.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from styleport import checkpoints
from styleport.export import pipeline
from styleport.export.calibration import collect_images, images_at
from styleport.precision import Precision
from styleport.testing import image_like_net


def stand_in(path: Path) -> Path:
    checkpoints.save(path, image_like_net(width=1.0), {"style_names": ["random"]})
    return path


def timing(model_path: Path, artifacts: list[Path], size=(256, 256), repeats=7) -> None:
    """Interleaved latency of torch eager fp32 and every artifact in ONNX Runtime (CPU)."""
    from styleport.runtimes.onnxruntime import OnnxRuntime
    from styleport.runtimes.torch import TorchRuntime

    img = images_at([], [size])[0]
    sessions = {"torch fp32": TorchRuntime().open(model_path, "cpu")}
    sessions.update({f"ort {p.name}": OnnxRuntime().open(p, "cpu") for p in artifacts})
    times = {k: [] for k in sessions}
    for _ in range(repeats):  # interleaved: the machine is shared and noisy
        for name, s in sessions.items():
            t = time.perf_counter()
            s.run(img)
            times[name].append(time.perf_counter() - t)
    for name, ts in times.items():
        med, lo, hi = statistics.median(ts) * 1e3, min(ts) * 1e3, max(ts) * 1e3
        print(f"{name:34s} {size[0]}x{size[1]}: median {med:.0f} ms, range {lo:.0f}-{hi:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", nargs="?", type=Path)
    parser.add_argument("--photos", type=Path, default=Path(__file__).resolve().parents[1] / "tests/fixtures/photos")
    parser.add_argument("--formats", default="onnx,ort")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model_path = args.model or stand_in(Path(tmp) / "random_w1.pth")
        ckpt = checkpoints.load(model_path)
        photos = collect_images([args.photos])
        precisions = [Precision.FP32, Precision.FP16, Precision.INT8]
        jobs = pipeline.plan(ckpt, args.formats.split(","), Path(tmp) / "out", precisions, calibration=photos)
        results = pipeline.run(ckpt, jobs, verify_sizes=((256, 256), (72, 96), (61, 83)))
        for r in results:
            print(r.summary())
            for c in r.verification.cases:
                print("   ", c.describe())
            if "int8_candidates_psnr_db" in r.artifact.details:
                print("    int8 candidates:", r.artifact.details["int8_candidates_psnr_db"])
            if "fp16_peak_before" in r.artifact.details:
                print("    fp16:", r.artifact.details["fp16_peak_before"], r.artifact.details["fp16_rescaled"])
        timing(model_path, [r.artifact.path for r in results])


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
