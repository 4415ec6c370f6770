"""TF.js and TFLite artifacts at every precision: size, PSNR vs torch fp32, latency in their runtimes.

    python bench/tf_formats.py [MODEL.pth] [--size 256] [--runs 5] [--photo tests/fixtures/photos/petra.jpg]

Without MODEL.pth a width-1.0 random-init network (random norm affines, output centred in 0..255)
stands in for a trained one. Exports each (format, precision) to a temp folder, runs the photo
through LiteRT (tflite) and TF.js-in-Node (wasm backend; tfjs), and prints one row each: file
size, max abs / PSNR against torch fp32 on the same photo, median and range of ``--runs`` timed
runs after one warm-up, threads and backend. Latency is measured, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from styleport import checkpoints
from styleport.export import base as export_base
from styleport.export.base import ExportRequest
from styleport.export.calibration import fit
from styleport.images import load_image
from styleport.metrics import compare
from styleport.model import TransformerNet
from styleport.precision import Precision
from styleport.runtimes import base as runtime_base
from styleport.testing import stand_in_net

ROOT = Path(__file__).resolve().parents[1]
CASES = (("tflite", ("fp32", "fp16", "int8")), ("tfjs", ("fp32", "fp16", "uint8")))


def random_net() -> TransformerNet:
    return stand_in_net(width=1.0)


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", nargs="?")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--photo", default=str(ROOT / "tests/fixtures/photos/petra.jpg"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="styleport-bench-") as tmp:
        tmp = Path(tmp)
        if args.model:
            ckpt = checkpoints.load(args.model)
        else:
            ckpt = checkpoints.load(checkpoints.save(tmp / "random_w1.pth", random_net(), {"style_names": ["random"]}))
        model = ckpt.build("cpu")
        image = fit(load_image(Path(args.photo)).rgb, args.size, args.size)  # (H,W,3) float32
        with torch.inference_mode():
            x = torch.from_numpy(image).permute(2, 0, 1)[None]  # (H,W,3) -> (1,3,H,W)
            times = []
            for i in range(args.runs + 1):
                t0 = time.perf_counter()
                ref = model(x)[0].permute(1, 2, 0).numpy()  # (1,3,H,W) -> (H,W,3)
                if i:
                    times.append(time.perf_counter() - t0)
        print(f"model {ckpt.path.name} width {ckpt.config.width}, photo {Path(args.photo).name} at {args.size}px")
        print(f"torch eager fp32: median {statistics.median(times) * 1e3:.0f} ms ({torch.get_num_threads()} threads)")
        print(f"{'format':<7} {'prec':<6} {'size':>9} {'max abs':>8} {'PSNR':>8} {'median':>9} {'range':>15}  runtime")
        for fmt, precisions in CASES:
            exporter = export_base.get(fmt)
            for prec in precisions:
                request = ExportRequest(fmt, Precision.parse(prec))
                out = tmp / exporter.filename("m", request.precision)
                exporter.export(model, ckpt, out, request)
                rt = runtime_base.get(exporter.runtime)
                reason = rt.availability()
                if reason:
                    print(f"{fmt:<7} {prec:<6} {folder_size(out) / 1e6:>7.2f}MB  SKIPPED: {reason}")
                    continue
                with rt.open(out) as session:
                    times, inner = [], []
                    for i in range(args.runs + 1):
                        t0 = time.perf_counter()
                        got = session.run(image)
                        if i:
                            times.append(time.perf_counter() - t0)
                            if getattr(session, "last_ms", None) is not None:
                                inner.append(session.last_ms)  # time inside Node, without the pipe transfer
                    info = session.info
                diff = compare(ref, got)
                ms = [t * 1e3 for t in times]
                print(
                    f"{fmt:<7} {prec:<6} {folder_size(out) / 1e6:>7.2f}MB {diff.max_abs:>8.3f} {diff.psnr:>6.1f}dB "
                    f"{statistics.median(ms):>7.0f}ms {min(ms):>6.0f}-{max(ms):<6.0f}ms  "
                    f"{info.runtime} {info.device} threads={info.threads}"
                    + (f" (in-runtime median {statistics.median(inner):.0f} ms)" if inner else "")
                )


if __name__ == "__main__":
    main()
