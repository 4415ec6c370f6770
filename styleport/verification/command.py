"""``styleport verify``: check artifacts that already exist against the reference model.

    styleport verify model.pth exports/model_fp16.onnx App/Style.mlpackage --report verify-report/

Format and precision come from each file (styleport metadata, else the weights); every file is
inspected and matched to the model before anything runs. Exit status: 0 all passed, 1 any
failed, 2 bad input (unknown file, not a model package, truncated, inputs that do not fit the
model; nothing is written), 3 nothing could be verified (every runtime SKIPPED).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "verify",
        help="check existing exported files against the reference model",
        description=__doc__.split("\n\n")[0],
        epilog="exit status: 0 all passed, 1 any failed, 2 bad input, 3 nothing could be verified (all skipped)",
    )
    p.add_argument("model", type=Path, help="the reference checkpoint (.pth)")
    p.add_argument(
        "artifacts",
        type=Path,
        nargs="+",
        metavar="ARTIFACT",
        help=".onnx/.ort/.tflite files, .mlpackage or TF.js folders",
    )
    p.add_argument("--precision", help="override the precision read from the files (e.g. fp16)")
    p.add_argument("--sizes", default="256,239x321", help="sizes HxW or N, comma-separated (default: 256,239x321)")
    p.add_argument(
        "--images", type=Path, nargs="+", help="verification photos or folders (default: the bundled verification set)"
    )
    p.add_argument("--report", type=Path, help="write report.json / report.md / report.html here")
    p.add_argument("--runs", type=int, default=3, help="timed runs per artifact after one warm-up (default: 3)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="reference/runtime device")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from styleport import quiet

    with quiet.third_party():  # TensorFlow / coremltools / LiteRT chatter -> the log (styleport/quiet.py)
        return _main(args)


def _main(args: argparse.Namespace) -> int:
    from styleport import quiet
    from styleport.errors import UsageError
    from styleport.export.calibration import collect_images
    from styleport.parity import report
    from styleport.parity.command import parse_sizes
    from styleport.precision import Precision
    from styleport.verification.api import VerifyFailure, verify
    from styleport.verification.engine import NothingVerified

    if args.runs < 1:
        raise UsageError("--runs must be at least 1")
    if not args.model.is_file():
        raise UsageError(f"{args.model}: no such checkpoint file")
    sizes = parse_sizes(args.sizes)
    precision = Precision.parse(args.precision) if args.precision else None
    photos = collect_images(args.images) if args.images else ()
    if args.report:  # as parity: a new, empty or earlier report folder, refused before any work
        from styleport.fileutil import claim_folder, holds_only
        from styleport.parity.command import REPORT_FILES

        claim_folder(args.report, "report", legacy=lambda p: holds_only(p, REPORT_FILES, {"report.json", "report.md"}))
    run = verify(
        args.model,
        args.artifacts,
        precision=precision,
        sizes=sizes,
        photos=photos,
        device=args.device,
        runs=args.runs,
        raise_on_failure=False,
        progress=lambda line: print(line, file=quiet.err(), flush=True),
    )
    quiet.say(f"reference: {run.reference.label}")
    for r in run.results:
        quiet.say(f"{r.path}: {r.name}: {r.summary()}")
    if args.report:
        paths = report.write(run, args.report)
        quiet.say(f"report: {', '.join(str(p) for p in paths)}")
    if run.failed:
        raise VerifyFailure(run)
    if not run.verified:
        raise NothingVerified(run.results)
    return 0
