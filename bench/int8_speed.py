"""int8 vs fp32 per runtime (issue #15): is a quantized file faster than the fp32 one of its runtime?

    nice -n 10 python bench/int8_speed.py [--models great_wave,w1] [--sizes 256,512] [--repeats 5]
                                          [--runtimes ort,tflite] [--profile]

Models: ``great_wave`` (bundled, width 0.5) and ``w1`` (a seeded random-init width-1.0 stand-in,
``styleport.testing.stand_in_net``: its timing is representative, its int8 PSNR is not -- random-init
networks are far more sensitive to weight rounding than trained ones).

Every variant of a runtime is timed interleaved with that runtime's fp32 file (intra-op threads 2),
one untimed warm-up per size; printed per (model, size, variant): median and range of the repeats,
speed-up vs the runtime's shipped fp32 file, PSNR vs torch fp32 on a held-out photo (eiffelTower, not
in the calibration set) and whether it meets its float tolerance row (``styleport.tolerances``;
variants with 8-bit activations: the ``a8`` row; TFLite full-integer has no row of its own and is
held to the tflite int8 row). ``--profile`` adds ONNX Runtime's profiler (top ops and their share of
kernel time) for the fp32 and int8 files at the largest size. Latency is printed, never asserted.
``--quality --schemes a8w8-pc-enc,a8w8-pc-skip`` instead prints those ONNX int8 schemes' PSNR on every
bundled network and the held-out photos (no timing).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import statistics
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
THREADS = 2
SCHEMES = ["a16w8", "a8w8-pc", "a8w8-pc-skip", "a8w8-pc-enc"]  # ONNX int8 schemes timed without --all


@dataclasses.dataclass
class Variant:
    runtime: str  # "ort" | "tflite"
    name: str
    row: tuple[str, str, str]  # (format, precision, tolerance variant)
    run: Callable[[np.ndarray], np.ndarray]  # (H,W,3) -> (H,W,3)
    path: Path | None = None
    level: str = "all"
    times: dict = dataclasses.field(default_factory=dict)
    psnr: dict = dataclasses.field(default_factory=dict)
    max_abs: dict = dataclasses.field(default_factory=dict)
    ok: dict = dataclasses.field(default_factory=dict)


def load_models(names: list[str]):
    from styleport import checkpoints
    from styleport.testing import stand_in_net

    out = []
    for name in names:
        if name == "w1":
            out.append(("w1.0 stand-in", stand_in_net(width=1.0)))
        else:
            ckpt = checkpoints.load(ROOT / "styleport" / "data" / "models" / f"{name}.pth")
            out.append((f"{name} (w{ckpt.config.width})", ckpt.build("cpu").eval()))
    return out


# ---------------------------------------------------------------- ONNX Runtime
def ort_session(path: Path, level: str = "all", profile: str | None = None, save: Path | None = None):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = THREADS
    opts.log_severity_level = 3
    opts.graph_optimization_level = {
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    }[level]
    if save:
        opts.optimized_model_filepath = str(save)
    if profile:
        opts.enable_profiling = True
        opts.profile_file_prefix = profile
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def ort_runner(sess) -> Callable[[np.ndarray], np.ndarray]:
    def run(img: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(img.transpose(2, 0, 1)[None])  # (H,W,3) -> (1,3,H,W)
        return sess.run(None, {"image": x})[0][0].transpose(1, 2, 0)  # (1,3,H,W) -> (H,W,3)

    return run


def _quiet():
    logging.getLogger().setLevel(logging.ERROR)
    logging.getLogger("onnxruntime.tools.symbolic_shape_infer").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")


def ort_files(model, folder: Path, everything: bool) -> list[tuple[str, str, Path]]:
    """(name, tolerance variant, path) of the fp32 files and every int8 variant."""
    import onnx
    from onnxruntime import quantization as q
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from styleport.export.base import ExportRequest
    from styleport.export.calibration import calibration_set
    from styleport.export.onnx import torch_to_onnx
    from styleport.export.onnx_int8 import CALIBRATION_SIZE, _Reader, quantize
    from styleport.precision import Precision

    _quiet()
    files = []
    for sub, label in ((True, "fp32 (shipped: sub-pixel)"), (False, "fp32, original upsampling")):
        p = folder / f"fp32_{sub}.onnx"
        onnx.save(torch_to_onnx(model, subpixel=sub), str(p))
        files.append((label, "fp32", p))
    plain = torch_to_onnx(model, subpixel=False)
    request = ExportRequest("onnx", Precision.INT8)
    schemes = ("a16w8", "a16w8-pc", "a8w8", "a8w8-pc", "a8w8-pc-skip", "a8w8-pc-enc")  # the exporter's own
    for scheme in schemes if everything else SCHEMES:
        p = folder / f"{scheme}.onnx"
        proto, _ = quantize(plain, model, request, scheme)
        onnx.save(proto, str(p))
        files.append((f"QDQ {scheme}", "a8" if scheme.startswith("a8") else "", p))
    if not everything:
        return files
    sub_proto, _ = quantize(torch_to_onnx(model, subpixel=True), model, request, "a8w8-pc")
    onnx.save(sub_proto, str(folder / "a8w8-pc-sub.onnx"))
    files.append(("QDQ a8w8-pc, sub-pixel graph", "a8", folder / "a8w8-pc-sub.onnx"))
    pres = {}
    for sub in (False, True):
        raw, pres[sub] = folder / f"raw_{sub}.onnx", folder / f"pre_{sub}.onnx"
        onnx.save(torch_to_onnx(model, subpixel=sub), str(raw))
        quant_pre_process(str(raw), str(pres[sub]), skip_symbolic_shape=False)
    cal = calibration_set([], CALIBRATION_SIZE, count=8)
    QO, QDQ = q.QuantFormat.QOperator, q.QuantFormat.QDQ
    extra = [
        ("QOperator u8s8-pc (QLinearConv)", QO, ["Conv"], False),
        ("QOperator u8s8-pc, sub-pixel graph", QO, ["Conv"], True),
        ("QDQ u8s8-pc +Pad,Relu,Resize", QDQ, ["Conv", "Pad", "Relu", "Resize"], False),
        ("QOperator u8s8-pc +Pad,Relu,Resize", QO, ["Conv", "Pad", "Relu", "Resize"], False),
        ("QDQ u8s8-pc +InstanceNorm,Relu,Pad", QDQ, ["Conv", "InstanceNormalization", "Relu", "Pad"], False),
    ]
    for i, (label, fmt, ops, sub) in enumerate(extra):
        p = folder / f"extra{i}.onnx"
        try:
            q.quantize_static(
                str(pres[sub]), str(p), _Reader(cal, [None]), quant_format=fmt, per_channel=True,
                activation_type=q.QuantType.QUInt8, weight_type=q.QuantType.QInt8, op_types_to_quantize=ops,
                calibrate_method=q.CalibrationMethod.MinMax,
                extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
            )  # fmt: skip
        except Exception as exc:
            print(f"  {label}: quantization failed ({str(exc).splitlines()[0]})", file=sys.stderr)
            continue
        files.append((label, "a8", p))
    return files


def ort_variants(model, folder: Path, everything: bool) -> list[Variant]:
    out = []
    for label, variant, path in ort_files(model, folder, everything):
        prec = "fp32" if label.startswith("fp32") else "int8"
        levels = ("all", "extended") if label in ("QDQ a8w8-pc", "QDQ a8w8-pc-enc") else ("all",)
        for level in levels:
            name = label + (" [EXTENDED]" if level == "extended" else "")
            optimized = folder / f"opt_{path.stem}_{level}.onnx"
            sess = ort_session(path, level, save=optimized)
            print(f"  ORT {name}: optimized graph {optimized_ops(optimized)}", file=sys.stderr)
            out.append(Variant("ort", name, ("onnx", prec, variant), ort_runner(sess), path, level))
    return out


def optimized_ops(path: Path) -> str:
    """Op-type counts of the graph ONNX Runtime runs (after its optimizers)."""
    import collections

    import onnx

    counts = collections.Counter(n.op_type for n in onnx.load(str(path)).graph.node)
    return ", ".join(f"{k} {v}" for k, v in counts.most_common())


def ort_profile(v: Variant, img: np.ndarray, folder: Path, runs: int = 3) -> str:
    """Top ops by share of ONNX Runtime kernel time (its profiler), after one warm-up run."""
    sess = ort_session(v.path, v.level, profile=str(folder / "prof"))
    run = ort_runner(sess)
    for _ in range(runs + 1):
        run(img)
    events = json.loads(Path(sess.end_profiling()).read_text())
    by_op: dict[str, float] = {}
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            op = e.get("args", {}).get("op_name", "?")
            by_op[op] = by_op.get(op, 0.0) + e["dur"]
    total = sum(by_op.values()) or 1.0
    top = sorted(by_op.items(), key=lambda kv: -kv[1])[:7]
    nodes = sum(1 for e in events if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time")) // (
        runs + 1
    )
    parts = ", ".join(f"{op} {100 * d / total:.0f}%" for op, d in top)
    convs: dict[str, float] = {}
    for e in events:
        if e.get("cat") == "Node" and e.get("args", {}).get("op_name") in ("Conv", "QLinearConv"):
            convs[e["name"].removesuffix("_kernel_time")] = (
                convs.get(e["name"].removesuffix("_kernel_time"), 0.0) + e["dur"]
            )
    slow = sorted(convs.items(), key=lambda kv: -kv[1])[:3]
    per_run = ", ".join(f"{k} {d / (runs + 1) / 1e3:.0f} ms" for k, d in slow)
    return (
        f"{v.name}: {nodes} kernels/run, {total / (runs + 1) / 1e3:.0f} ms kernel time/run: {parts}\n"
        f"      convs {sum(convs.values()) / (runs + 1) / 1e3:.0f} ms/run, slowest: {per_run}"
    )


# ---------------------------------------------------------------- LiteRT (TFLite)
def tflite_full_int8(model, saved: Path, cal: list[np.ndarray]) -> bytes:
    from styleport.export import tfgraph

    tf = tfgraph.import_tf("tflite")
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved), signature_keys=["serving_default"])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ({"image": img[None]} for img in cal)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]  # float I/O, int8 inside
    return converter.convert()


def litert_runner(path: Path, resolver: str = "AUTO", latest: bool = False):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(
        model_path=str(path), num_threads=THREADS, experimental_op_resolver_type=getattr(OpResolverType, resolver),
        experimental_default_delegate_latest_features=latest,
    )  # fmt: skip
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    state = {"size": None}

    def run(img: np.ndarray) -> np.ndarray:
        if state["size"] != img.shape[:2]:
            interp.resize_tensor_input(inp["index"], [1, *img.shape[:2], 3], strict=False)
            interp.allocate_tensors()
            state["size"] = img.shape[:2]
        interp.set_tensor(inp["index"], img[None])  # (H,W,3) -> (1,H,W,3)
        interp.invoke()
        return np.array(interp.get_tensor(out["index"])[0], np.float32)

    return run


def tflite_variants(model, folder: Path, everything: bool) -> list[Variant]:
    from styleport.export import tfgraph
    from styleport.export.calibration import calibration_set
    from styleport.export.onnx_int8 import CALIBRATION_SIZE
    from styleport.export.tflite import convert
    from styleport.precision import Precision

    files = {}
    for sub in (True, False):
        saved = tfgraph.save_saved_model(model, folder / f"saved_{sub}", subpixel=sub)
        if sub:
            files["fp32"] = convert(saved, Precision.FP32)
        else:
            files["int8 dyn"] = convert(saved, Precision.INT8)
            try:
                files["int8 full"] = tflite_full_int8(model, saved, calibration_set([], CALIBRATION_SIZE, count=8))
            except Exception as exc:
                print(f"  TFLite full int8: conversion failed ({str(exc).splitlines()[0]})", file=sys.stderr)
    paths = {}
    for k, data in files.items():
        paths[k] = folder / (k.replace(" ", "_") + ".tflite")
        paths[k].write_bytes(data)
    specs = [
        ("fp32 (shipped: sub-pixel)", "fp32", "AUTO", False),
        ("int8 dynamic-range (shipped), XNNPACK default", "int8 dyn", "AUTO", False),
        ("int8 dynamic-range, XNNPACK latest features", "int8 dyn", "AUTO", True),
        ("int8 dynamic-range, no XNNPACK", "int8 dyn", "BUILTIN_WITHOUT_DEFAULT_DELEGATES", False),
        ("int8 full-integer (float I/O), XNNPACK", "int8 full", "AUTO", False),
        ("int8 full-integer, no XNNPACK", "int8 full", "BUILTIN_WITHOUT_DEFAULT_DELEGATES", False),
    ]
    out = []
    for name, key, resolver, latest in specs:
        if key in paths and (everything or "latest" not in name):
            prec = "fp32" if key == "fp32" else "int8"
            out.append(
                Variant("tflite", name, ("tflite", prec, ""), litert_runner(paths[key], resolver, latest), paths[key])
            )
    return out


# ---------------------------------------------------------------- measuring
def measure(variants: list[Variant], sizes, images, refs, repeats: int) -> None:
    from styleport.metrics import compare
    from styleport.parity.latency import time_interleaved
    from styleport.precision import Precision
    from styleport.tolerances import lookup
    from styleport.verification.engine import bound_text, within

    for size in sizes:
        for v in variants:
            try:
                d = compare(refs[size], v.run(images[size]))
            except Exception as exc:
                print(
                    f"  {v.name} at {size}: failed ({(str(exc).splitlines() or [type(exc).__name__])[0]})",
                    file=sys.stderr,
                )
                continue
            tol = lookup(v.row[0], Precision(v.row[1]), v.row[2])
            v.psnr[size] = d.psnr
            v.max_abs[size] = d.max_abs
            v.ok[size] = (within(d, tol), bound_text(tol))  # the verification engine's rule and wording
    time_interleaved(variants, sizes, images, repeats, note=lambda: f", load {os.getloadavg()[0]:.1f}")


def report(model_name: str, variants: list[Variant], sizes) -> None:
    print(f"\n### {model_name}\n")
    print("| size | runtime | variant | median | range | x its fp32 | PSNR | max abs | row | meets |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for size in sizes:
        for rt in ("ort", "tflite"):
            vs = [v for v in variants if v.runtime == rt and size in v.times]
            if not vs:
                continue
            base = statistics.median(vs[0].times[size])
            for v in vs:
                t = v.times[size]
                med = statistics.median(t)
                ok, row = v.ok[size]
                print(
                    f"| {size[0]}x{size[1]} | {rt} | {v.name} | {med * 1e3:.0f} ms | {min(t) * 1e3:.0f}-{max(t) * 1e3:.0f} "
                    f"| {base / med:.2f}x | {v.psnr[size]:.1f} dB | {v.max_abs[size]:.3g} | {row} | {'yes' if ok else 'NO'} |"
                )


def quality(schemes: list[str], sizes) -> None:
    """PSNR of ONNX int8 ``schemes`` vs torch fp32, every bundled network, the held-out photos at ``sizes``."""
    import onnxruntime as ort
    import torch

    from styleport import checkpoints
    from styleport.export.base import ExportRequest
    from styleport.export.calibration import fit
    from styleport.export.onnx import torch_to_onnx
    from styleport.export.onnx_int8 import quantize
    from styleport.images import load_image, sample_photos
    from styleport.metrics import psnr
    from styleport.precision import Precision

    _quiet()
    photos = [load_image(p).rgb for p in sample_photos("verification")]
    for path in sorted((ROOT / "styleport" / "data" / "models").glob("*.pth")):
        ckpt = checkpoints.load(path)
        model = ckpt.build("cpu").eval()
        sw = np.eye(ckpt.config.num_styles, dtype=np.float32)[:1] if ckpt.config.num_styles > 1 else None  # style 0
        for scheme in schemes:
            proto, _ = quantize(
                torch_to_onnx(model, subpixel=False), model, ExportRequest("onnx", Precision.INT8), scheme
            )
            sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
            line = []
            for size in sizes:
                scores = []
                for photo in photos:
                    x = torch.from_numpy(fit(photo, *size)).permute(2, 0, 1)[None]  # (H,W,3) -> (1,3,H,W)
                    feeds = {"image": x.numpy()} | ({"style_weights": sw} if sw is not None else {})
                    with torch.inference_mode():
                        ref = model(x, None if sw is None else torch.from_numpy(sw))[0].permute(1, 2, 0).numpy()
                    scores.append(psnr(ref, sess.run(None, feeds)[0][0].transpose(1, 2, 0)))  # (1,3,H,W) -> (H,W,3)
                line.append(f"{size[0]}: {min(scores):.1f}-{max(scores):.1f} dB")
            print(f"{path.stem:22s} {scheme:14s} " + "  ".join(line), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="great_wave,w1")
    ap.add_argument("--sizes", default="256,512")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--runtimes", default="ort,tflite")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--all", action="store_true", help="also QOperator, more ops quantized, sub-pixel int8, ...")
    ap.add_argument("--photo", type=Path, default=ROOT / "styleport" / "data" / "samples" / "eiffelTower.jpg")
    ap.add_argument("--quality", action="store_true", help="only PSNR of --schemes, all bundled nets, held-out photos")
    ap.add_argument("--schemes", help=f"ONNX int8 schemes to time (default {','.join(SCHEMES)})")
    args = ap.parse_args()
    if args.schemes:
        SCHEMES[:] = args.schemes.split(",")
    if args.quality:
        quality(SCHEMES, [(int(x), int(x)) for x in args.sizes.split(",")])
        return 0

    import onnxruntime
    import torch

    from styleport.export.calibration import fit
    from styleport.images import load_image

    sizes = [(int(s), int(s)) for s in args.sizes.split(",")]
    runtimes = args.runtimes.split(",")
    photo = load_image(args.photo).rgb
    images = {s: fit(photo, *s) for s in sizes}
    flags = open("/proc/cpuinfo").read()
    print(
        f"onnxruntime {onnxruntime.__version__}, torch {torch.__version__}, {os.cpu_count()} CPUs, "
        f"avx512_vnni={'avx512_vnni' in flags}, threads {THREADS}, load at start {os.getloadavg()}",
        flush=True,
    )
    for model_name, model in load_models(args.models.split(",")):
        with tempfile.TemporaryDirectory(prefix="styleport-int8-") as tmp:
            tmp = Path(tmp)
            with torch.inference_mode():  # (H,W,3) -> (1,3,H,W) -> (H,W,3)
                refs = {
                    s: model(torch.from_numpy(images[s]).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
                    for s in sizes
                }
            variants = []
            if "ort" in runtimes:
                variants += ort_variants(model, tmp, args.all)
            if "tflite" in runtimes:
                variants += tflite_variants(model, tmp, args.all)
            print(f"{model_name}: {len(variants)} variants built, load {os.getloadavg()[0]:.1f}", file=sys.stderr)
            measure(variants, sizes, images, refs, args.repeats)
            report(model_name, variants, sizes)
            if args.profile:
                print(f"\nONNX Runtime profile at {sizes[-1][0]} px ({model_name}):")
                for v in variants:
                    if v.runtime == "ort" and v.level == "all":
                        print("  " + ort_profile(v, images[sizes[-1]], tmp))
    print(
        f"\nphoto {args.photo.name}; {args.repeats} interleaved repeats after a warm-up; load at end {os.getloadavg()}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
