"""``styleport export``: one checkpoint in, verified deployable files out.

    styleport export --to onnx,tflite model.pth -o out/ --precision fp32,fp16
    styleport export --to all model.pth --calibration photos/ --option onnx.int8_scheme=auto

Every request is checked before any work; each artifact is verified in its runtime against the
torch reference (unless --no-verify) and only then moved into place. Exit status is nonzero on
any failure, and no half-written file is left behind.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from styleport.errors import UsageError

MIN_SIDE, MAX_SIDE = 16, 8192  # the network needs >= 16 px to be checked; larger shapes are refused up front


def parse_shapes(text: str | None, option: str = "--shapes") -> tuple[tuple[int, int], ...]:
    """``"256x256,720x1280"`` -> ((256, 256), (720, 1280)); H x W, each side in MIN_SIDE..MAX_SIDE."""
    if not text:
        return ()
    shapes = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d{1,9})\s*[xX]\s*(\d{1,9})\s*", part)
        if not m:
            raise UsageError(f"{option}: bad shape '{part}': write HEIGHTxWIDTH, e.g. 720x1280")
        h, w = int(m.group(1)), int(m.group(2))
        if not (MIN_SIDE <= h <= MAX_SIDE and MIN_SIDE <= w <= MAX_SIDE):
            raise UsageError(f"{option}: shape {h}x{w} out of range: each side must be in {MIN_SIDE}..{MAX_SIDE}")
        shapes.append((h, w))
    return tuple(shapes)


def parse_options(items: list[str] | None) -> dict[str, dict[str, str]]:
    """``["onnx.int8_scheme=auto"]`` -> {"onnx": {"int8_scheme": "auto"}}."""
    out: dict[str, dict[str, str]] = {}
    for item in items or []:
        m = re.fullmatch(r"([\w-]+)\.([\w-]+)=(.*)", item)
        if not m:
            raise UsageError(f"bad --option '{item}': write FORMAT.KEY=VALUE, e.g. onnx.int8_scheme=auto")
        out.setdefault(m.group(1), {})[m.group(2)] = m.group(3)
    return out


def format_list() -> str:
    """One block per registered format: suffix, precisions (default first), runtime, options."""
    from styleport.export.base import get, names

    lines = []
    for name in names():
        e = get(name)
        precisions = [e.default_precision.value] + [p.value for p in e.precisions if p != e.default_precision]
        lines.append(f"{name:8s} {e.suffix:12s} precisions: {', '.join(precisions)}  [verified in {e.runtime}]")
        if e.description:
            lines.append(f"         {e.description}")
        for key, spec in e.options.items():
            choices = f" ({'|'.join(spec.choices)})" if spec.choices else ""
            lines.append(f"         --option {name}.{key}={spec.default}{choices}: {spec.help}")
    return "\n".join(lines)


def register(subparsers) -> None:
    from styleport.export.base import names

    p = subparsers.add_parser(
        "export",
        help="export a model to ONNX / CoreML / TF.js / TFLite and verify every file",
        description="One checkpoint in, deployable files out, each verified against the PyTorch reference.",
        epilog="examples:\n  styleport export --to onnx,tflite model.pth -o out/ --precision fp32,fp16\n"
        "  styleport export --to all model.pth --calibration photos/ --option onnx.int8_scheme=auto",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", type=Path, nargs="?", help="checkpoint (.pth)")
    p.add_argument("--list", action="store_true", help="list formats, precisions and options, then exit")
    p.add_argument("--to", help=f"formats, comma-separated ({', '.join(names())}) or 'all'")
    p.add_argument("-o", "--output", type=Path, default=Path("exports"), help="output directory (default: ./exports)")
    p.add_argument("--precision", help="precisions, comma-separated (default: each format's own default)")
    p.add_argument("--shapes", help="input shapes HxW[,HxW...] for formats with fixed shapes (and tracing)")
    p.add_argument(
        "--calibration",
        type=Path,
        nargs="+",
        help="photos or folders for int8 calibration and fp16 ranges (default: the bundled calibration photos)",
    )
    p.add_argument(
        "--verify-images",
        type=Path,
        nargs="+",
        help="held-out photos or folders for verification, disjoint from --calibration "
        "(default: the bundled verification photos)",
    )
    p.add_argument("--option", action="append", metavar="FMT.KEY=VALUE", help="format option (repeatable)")
    p.add_argument("--verify-sizes", help="verification sizes HxW[,HxW...] (default: 72x96,61x83)")
    p.add_argument("--no-verify", action="store_true", help="skip verification against the torch reference")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from styleport import quiet

    with quiet.third_party():  # TensorFlow / coremltools import chatter -> the log (styleport/quiet.py)
        return _main(args)


def _main(args: argparse.Namespace) -> int:
    from styleport import quiet
    from styleport.checkpoints import load
    from styleport.export import pipeline
    from styleport.export.calibration import collect_images
    from styleport.export.verify import DEFAULT_SIZES
    from styleport.fileutil import claim_folder, scratch
    from styleport.images import sample_photos
    from styleport.precision import Precision

    if args.list:
        print(format_list(), file=quiet.out())
        return 0
    if args.model is None or not args.to:
        raise UsageError("export needs a model file and --to FORMAT[,FORMAT...] (see styleport export --list)")
    formats = [f.strip() for f in args.to.split(",") if f.strip()]
    if not formats:
        raise UsageError("--to needs at least one format")
    precisions = [Precision.parse(p) for p in args.precision.split(",")] if args.precision else []
    shapes = parse_shapes(args.shapes)
    verify_sizes = parse_shapes(args.verify_sizes, "--verify-sizes") or DEFAULT_SIZES
    options = parse_options(args.option)
    # Real photos, not noise: 8-bit image I/O and int8/fp16 ranges behave differently on noise
    # (measured: the bundled width-0.5 net's CoreML fp32 check gave 50.0 dB on synthetic images,
    # 58.8 dB on photos). Empty = the bundled sets; calibration and verification never share a photo.
    calibration = collect_images(args.calibration) if args.calibration else ()
    verify_photos = collect_images(args.verify_images) if args.verify_images else ()
    checkpoint = load(args.model)
    jobs = pipeline.plan(checkpoint, formats, args.output, precisions, shapes, calibration, options)
    inputs = {p.resolve() for p in (args.model, *calibration)}
    clash = next((j.out for j in jobs if j.out.resolve() in inputs), None)
    if clash is not None:
        raise UsageError(f"{clash}: is an input; refusing to overwrite it (pick another -o folder)")
    if not args.no_verify and jobs:  # held-out: refused before the output folder is made
        pipeline.check_disjoint(jobs[0].request.calibration_images, verify_photos or sample_photos("verification"))
    # a new, empty or styleport-made folder (or one of earlier exports), write-probed before any work
    claim_folder(args.output, "export", legacy=pipeline.is_export_folder)
    if args.no_verify:
        print(
            "styleport: warning: --no-verify: artifacts will NOT be checked against the torch reference",
            file=quiet.err(),
        )

    def show(line: str) -> None:
        if line.startswith(("exporting ", "FAILED ")):
            print(f"styleport: {line}", file=quiet.err(), flush=True)
        else:
            print(line, file=quiet.out(), flush=True)  # one summary line per artifact, as soon as it is verified

    with scratch(args.output):  # converters' temp files (tempfile, $TMPDIR) live and die in -o
        pipeline.run(
            checkpoint,
            jobs,
            verify=not args.no_verify,
            verify_sizes=verify_sizes,
            progress=show,
            keep_going=True,
            verify_photos=verify_photos,
        )
    return 0
