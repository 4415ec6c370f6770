"""Inference latency of every runtime against torch eager fp32, interleaved in one process.

    python bench/infer_latency.py [MODEL.pth] [--sizes 256,512,1080x1920] [--repeats 3] [--quick]
                                  [--no-artifacts] [--only 'ORT fp32,engine']

Without MODEL.pth the bundled network (styleport/data/models/*.pth) is used, else a width-1.0
random-init network with random norm affines (output centred in 0..255) stands in for it.

Each path gets one untimed warm-up per size; then, for every repeat, every size and every path in
turn is timed once (interleaved, so machine-load drift hits all paths alike). Printed per (size,
path): median and range of the repeats, speed-up vs torch eager fp32 (its median / the path's
median), achieved GFLOP/s (``styleport.model.gflops`` / median) and its share of the GEMM peak
measured here (fp32 for float paths, bf16 for bf16 paths), PSNR vs torch eager fp32 on a photo,
and whether the path meets its tolerance row (``styleport.tolerances``) -- a fast path that does
not is not an answer. Latency is measured and printed, never asserted.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from gemm_peak import describe, gemm_peak  # bench/ is on sys.path when run as a script

ROOT = Path(__file__).resolve().parents[1]
SLOW_LIMIT_PIXELS = 512 * 512  # numpy CoreML interpreter and tfjs wasm: not run above this (minutes per image)


@dataclasses.dataclass
class Path_:
    name: str
    fmt: str  # tolerance-table format ("torch", "onnx", ...)
    precision: str
    dtype: str  # "fp32" | "bf16": which GEMM peak it is compared with
    run: Callable[[np.ndarray], np.ndarray]
    max_pixels: int | None = None  # None: every size
    close: Callable[[], None] = lambda: None
    times: dict = dataclasses.field(default_factory=dict)  # (H, W) -> [seconds]
    psnr: dict = dataclasses.field(default_factory=dict)  # (H, W) -> dB
    verified: dict = dataclasses.field(default_factory=dict)  # (H, W) -> bool


def load_model(path: Path | None):
    from styleport import checkpoints
    from styleport.testing import stand_in_net

    bundled = sorted((ROOT / "styleport" / "data" / "models").glob("*.pth"))
    path = path or (bundled[0] if bundled else None)
    if path is not None:
        return checkpoints.load(path), path.name, path
    net = stand_in_net(width=1.0)
    tmp = Path(tempfile.mkdtemp(prefix="styleport-bench-")) / "random_w1.pth"
    checkpoints.save(tmp, net, {"style_names": ["random"]})
    return checkpoints.load(tmp), "random-init width-1.0 (no bundled model)", tmp


def torch_paths(model) -> list[Path_]:
    from styleport.precision import Precision
    from styleport.runtimes.torch import TorchRuntime

    fp32 = TorchRuntime().session_for(model, "cpu", Precision.FP32)
    bf16 = TorchRuntime().session_for(model, "cpu", Precision.BF16)
    cl = bf16.model.__class__(bf16.model.config).to(torch.bfloat16).to(memory_format=torch.channels_last).eval()
    cl.load_state_dict(bf16.model.state_dict())

    def run_cl(img: np.ndarray) -> np.ndarray:
        # (H,W,3) -> (1,3,H,W) channels_last bf16
        x = (
            torch.from_numpy(img)
            .permute(2, 0, 1)[None]
            .to(torch.bfloat16)
            .contiguous(memory_format=torch.channels_last)
        )
        with torch.inference_mode():
            return cl(x)[0].permute(1, 2, 0).float().numpy()  # (1,3,H,W) -> (H,W,3)

    return [
        Path_("torch eager fp32", "torch", "fp32", "fp32", fp32.run),
        Path_("torch eager bf16", "torch", "bf16", "bf16", bf16.run),
        Path_("torch bf16 channels_last", "torch", "bf16", "bf16", run_cl),
    ]


def light_paths(path: Path) -> list[Path_]:
    """The torch-free stylize engine (styleport.light, the CLI's default on small images and AVX2 CPUs):
    its graph as it runs (sub-pixel upsampling, space-to-depth output conv), without the output-conv
    rewrite, and with neither (nearest Resize + 3x3 conv, plain 9x9 output conv)."""
    import onnxruntime as ort

    from styleport import light

    engine = light.LightStylizer(path)

    def runner(**forms) -> Callable[[np.ndarray], np.ndarray]:
        graph = light.build_graph(engine.weights, None, **forms)
        session = ort.InferenceSession(graph, providers=["CPUExecutionProvider"])

        def run(img: np.ndarray) -> np.ndarray:
            x = np.ascontiguousarray(img.transpose(2, 0, 1)[None], dtype=np.float32)  # (H,W,3) -> (1,3,H,W)
            y = session.run(None, {"image": x})[0]
            return np.clip(y[0, :, : img.shape[0], : img.shape[1]].transpose(1, 2, 0), 0, 255)  # -> (H,W,3)

        return run

    return [
        Path_("stylize engine onnxruntime (as run)", "onnx", "fp32", "fp32", engine.run_array),
        Path_("  without output-conv phases", "onnx", "fp32", "fp32", runner(output_phases=False)),
        Path_("  Resize, plain output conv", "onnx", "fp32", "fp32", runner(subpixel=False, output_phases=False)),
    ]


def artifact_paths(checkpoint, model, folder: Path, photos, sizes) -> list[Path_]:
    """Export through the real pipeline, open each in its runtime; unavailable ones are reported."""
    from styleport.export import base as exporters
    from styleport.export.base import ExportRequest
    from styleport.export.pipeline import Job, export_one
    from styleport.precision import Precision
    from styleport.runtimes import base as runtimes

    wanted = [
        ("ORT fp32", "onnx", "fp32", {}, None),
        ("ORT fp16", "onnx", "fp16", {}, None),
        ("ORT int8", "onnx", "int8", {}, None),
        ("TFLite fp32", "tflite", "fp32", {}, None),
        ("TFLite int8", "tflite", "int8", {}, None),
        ("tfjs-node wasm fp32", "tfjs", "fp32", {}, SLOW_LIMIT_PIXELS),
        ("CoreML interpreter fp32", "coreml", "fp32", {}, SLOW_LIMIT_PIXELS),
    ]
    out = []
    for label, fmt, prec, opts, limit in wanted:
        if fmt not in exporters.names():
            print(f"  {label}: SKIPPED ({fmt} exporter not registered)", file=sys.stderr)
            continue
        exporter = exporters.get(fmt)
        runtime = runtimes.get(exporter.runtime)
        reason = runtime.availability()
        if reason:
            print(f"  {label}: SKIPPED ({reason})", file=sys.stderr)
            continue
        request = ExportRequest(fmt, Precision(prec), tuple(sizes), tuple(photos), opts)  # shapes: CoreML enumerates
        try:
            exporter.check_available()
            job = Job(exporter, request, folder / exporter.filename("bench", Precision(prec)))
            artifact = export_one(model, checkpoint, job, verify=False, verify_sizes=()).artifact
        except Exception as exc:  # report and go on: one broken exporter must not hide the others
            print(f"  {label}: SKIPPED (export failed: {str(exc).splitlines()[0]})", file=sys.stderr)
            continue
        session = runtime.open(artifact.path, device="cpu" if exporter.runtime == "onnxruntime" else "auto")
        info = session.info
        print(f"  {label}: {info.runtime} {info.provider} threads={info.threads} {info.notes}", file=sys.stderr)
        out.append(Path_(label, fmt, prec, "fp32", session.run, limit, session.close))
        if label == "ORT fp32":  # the same export without the output-conv rewrite, side by side
            out.append(_plain_output_conv(model, folder, runtime))
    return out


def _plain_output_conv(model, folder: Path, runtime) -> Path_:
    """The ONNX fp32 export as it was before its output conv took the space-to-depth form."""
    import onnx

    from styleport.export.onnx import torch_to_onnx
    from styleport.onnx_norm import two_stage_instance_norms

    path = folder / "bench_plain_output_conv.onnx"
    onnx.save(two_stage_instance_norms(torch_to_onnx(model, output_phases=False)), str(path))
    session = runtime.open(path, device="cpu")
    return Path_("  ORT fp32 without output-conv phases", "onnx", "fp32", "fp32", session.run, None, session.close)


def measure_all(paths: list[Path_], sizes, images: dict, reference: dict, repeats: int) -> None:
    from styleport.metrics import compare
    from styleport.parity.latency import time_interleaved
    from styleport.precision import Precision
    from styleport.tolerances import lookup
    from styleport.verification.engine import within

    for size in sizes:  # warm-up + quality, once per (path, size)
        for p in paths:
            if p.max_pixels is None or size[0] * size[1] <= p.max_pixels:
                try:
                    diff = compare(reference[size], p.run(images[size]))
                except Exception as exc:  # e.g. a size outside an artifact's enumerated shapes
                    print(f"  {p.name} at {size[0]}x{size[1]}: not run ({str(exc).splitlines()[0]})", file=sys.stderr)
                    continue
                p.psnr[size] = diff.psnr
                try:
                    ok = within(diff, lookup(p.fmt, Precision(p.precision)))  # the verification engine's rule
                except Exception:  # no tolerance row: cannot call it verified
                    ok = False
                p.verified[size] = ok
    time_interleaved(paths, sizes, images, repeats)


def report(paths: list[Path_], sizes, model, peaks: dict) -> None:
    from styleport.model import gflops

    base = paths[0]
    print(f"GEMM peak ({describe()}): fp32 {peaks['fp32']:.0f} GFLOP/s, bf16 {peaks['bf16']:.0f} GFLOP/s")
    head = "| size | path | median | range | x torch fp32 | GFLOP/s | % peak | PSNR | verified |"
    print(head + "\n" + "|---" * 9 + "|")
    best = {}
    for size in sizes:
        flops = gflops(model, *size)
        ref_median = statistics.median(base.times[size])
        for p in paths:
            if size not in p.times:
                print(
                    f"| {size[0]}x{size[1]} | {p.name} | not run (too slow at this size, or failed: see stderr) | | | | | | |"
                )
                continue
            t = p.times[size]
            med = statistics.median(t)
            rate = flops / med
            psnr = p.psnr[size]
            speed = ref_median / med
            ok = "yes" if p.verified[size] else "NO"
            print(
                f"| {size[0]}x{size[1]} | {p.name} | {med * 1000:.0f} ms | {min(t) * 1000:.0f}-{max(t) * 1000:.0f} ms "
                f"| {speed:.2f}x | {rate:.0f} | {100 * rate / peaks[p.dtype]:.0f}% "
                f"| {'inf' if math.isinf(psnr) else f'{psnr:.1f}'} dB | {ok} |"
            )
            if p.verified[size] and p is not base and speed > best.get(size, (0.0, ""))[0]:
                best[size] = (speed, p.name)
    for size, (speed, name) in best.items():
        print(f"fastest verified path at {size[0]}x{size[1]}: {name}, {speed:.2f}x torch eager fp32")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", nargs="?", type=Path, help="checkpoint (default: bundled, else random width-1.0)")
    ap.add_argument("--sizes", default="256,512,1080x1920", help="HxW or N, comma-separated")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per (path, size), interleaved")
    ap.add_argument("--quick", action="store_true", help="sizes 256,512 and 2 repeats")
    ap.add_argument("--no-artifacts", action="store_true", help="torch and the stylize engine only (no exports)")
    ap.add_argument("--photo", type=Path, default=ROOT / "styleport" / "data" / "samples" / "colosseum.jpg")
    ap.add_argument(
        "--only",
        default="",
        help="comma-separated substrings: time only the paths whose name contains one (torch eager fp32, the "
        "baseline, always runs); e.g. 'ORT fp32,engine' where bf16 is emulated and minutes per image",
    )
    args = ap.parse_args()
    from styleport.parity.command import parse_sizes

    sizes = parse_sizes("256,512" if args.quick else args.sizes)
    repeats = 2 if args.quick else args.repeats

    from styleport.export.calibration import fit
    from styleport.images import load_image

    checkpoint, model_name, model_path = load_model(args.model)
    model = checkpoint.build("cpu")
    photo = load_image(args.photo).rgb
    images = {s: fit(photo, *s) for s in sizes}
    print(f"model: {model_name}; torch {torch.__version__}, {torch.get_num_threads()} threads", file=sys.stderr)
    peaks = {"fp32": gemm_peak(torch.float32), "bf16": gemm_peak(torch.bfloat16)}
    samples = sorted((ROOT / "styleport" / "data" / "samples").glob("*.jpg"))
    with tempfile.TemporaryDirectory(prefix="styleport-bench-") as tmp:
        paths = torch_paths(model) + light_paths(model_path)
        if not args.no_artifacts:
            paths += artifact_paths(checkpoint, model, Path(tmp), samples, sizes)
        if args.only:
            wanted = [w.strip() for w in args.only.split(",") if w.strip()]
            for p in paths[1:]:
                if not any(w in p.name for w in wanted):
                    p.close()
            paths = [paths[0]] + [p for p in paths[1:] if any(w in p.name for w in wanted)]
        reference = {s: paths[0].run(images[s]) for s in sizes}
        try:
            measure_all(paths, sizes, images, reference, repeats)
        finally:
            for p in paths:
                p.close()
    print(f"\nmodel: {model_name}; photo {args.photo.name}; {repeats} interleaved repeats after a warm-up")
    report(paths, sizes, model, peaks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
