"""``styleport parity``: prove each exported file reproduces the reference's pixels, and time it.

    styleport parity model.pth --formats onnx,tflite --precisions fp32,int8 --sizes 256,239x321
    styleport parity model.pth --export-dir exports/ --report parity-report/

Exports what is needed (or reuses files in --export-dir), runs each in its real runtime on photos
at every size and writes report.json / report.md / report.html. Exit status is nonzero if any
artifact fails (1), and 3 when nothing could be verified (every runtime SKIPPED, with the reason):
a skip is never a pass. --export-dir artifacts are reused only when their provenance record matches.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from styleport.argtypes import int_in
from styleport.errors import UsageError

REPORT_FILES = {"report.json", "report.md", "report.html", "images"}


def parse_sizes(text: str) -> tuple[tuple[int, int], ...]:
    """``"256,512x384"`` -> ((256, 256), (512, 384)); HEIGHTxWIDTH, a single number is square."""
    from styleport.export.command import parse_shapes

    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise UsageError("--sizes needs at least one size")
    sizes = []
    for part in parts:
        if part.isdigit():
            part = f"{part}x{part}"
        sizes.extend(parse_shapes(part, "--sizes"))
    for h, w in sizes:
        if h < 16 or w < 16:
            raise UsageError(f"--sizes {h}x{w}: the network needs at least 16x16 pixels")
    return tuple(sizes)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "parity",
        help="check every exported format in its real runtime against the torch reference",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument("model", type=Path, help="checkpoint (.pth)")
    p.add_argument("--formats", help="formats, comma-separated (default: every registered format)")
    p.add_argument("--precisions", help="precisions, comma-separated (default: every precision each format has)")
    p.add_argument("--sizes", default="256,239x321", help="sizes HxW or N, comma-separated (default: 256,239x321)")
    p.add_argument(
        "--images", type=Path, nargs="+", help="verification photos or folders (default: the bundled verification set)"
    )
    p.add_argument(
        "--calibration",
        type=Path,
        nargs="+",
        help="calibration photos for new exports, disjoint from --images (default: the bundled calibration set)",
    )
    p.add_argument(
        "--export-dir", type=Path, help="reuse artifacts found here if their provenance matches; keep new exports here"
    )
    p.add_argument(
        "--report", type=Path, default=Path("parity-report"), help="report folder (default: ./parity-report)"
    )
    p.add_argument(
        "--runs", type=int_in(1, 1000), default=5, help="timed runs per artifact after one warm-up (default: 5)"
    )
    p.add_argument("--option", action="append", metavar="FMT.KEY=VALUE", help="exporter option, as for export")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="reference/runtime device")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from styleport import quiet

    with quiet.third_party():  # TensorFlow / coremltools / LiteRT chatter -> the log (styleport/quiet.py)
        return _main(args)


def _main(args: argparse.Namespace) -> int:
    from styleport import quiet
    from styleport.export.calibration import collect_images
    from styleport.export.command import parse_options
    from styleport.export.pipeline import is_export_folder
    from styleport.fileutil import claim_folder, holds_only, scratch
    from styleport.parity import report
    from styleport.parity.run import MAX_IMAGES, NothingVerified, ParityConfig, ParityFailure, plan, run, summary_line
    from styleport.precision import Precision

    formats = tuple(f.strip() for f in (args.formats or "").split(",") if f.strip())
    precisions = tuple(Precision.parse(p) for p in (args.precisions or "").split(",") if p.strip())
    images = collect_images(args.images)[:MAX_IMAGES] if args.images else ()
    config = ParityConfig(
        formats=formats,
        precisions=precisions,
        sizes=parse_sizes(args.sizes),
        images=images,
        calibration=collect_images(args.calibration) if args.calibration else (),
        export_dir=args.export_dir,
        runs=args.runs,
        device=args.device,
        options=tuple((f, k, v) for f, kv in parse_options(args.option).items() for k, v in kv.items()),
    )
    plan(config)  # every usage error before any work
    if not args.model.is_file():
        raise UsageError(f"{args.model}: no such checkpoint file")
    claim_folder(
        args.report, "report", legacy=lambda p: holds_only(p, REPORT_FILES, {"report.json", "report.md"})
    )  # before any work
    if args.export_dir is not None:
        claim_folder(args.export_dir, "export", legacy=is_export_folder)
    with scratch(args.report):
        result = run(args.model, config, progress=lambda line: print(line, file=quiet.err(), flush=True))
    paths = report.write(result, args.report)
    print(f"reference: {result.reference.label}", file=quiet.out())
    for r in result.results:
        print(f"{r.name:<14} {summary_line(r)}", file=quiet.out())
    print(f"report: {', '.join(str(p) for p in paths)}", file=quiet.out())
    if result.failed:
        raise ParityFailure(result)
    if not result.verified:
        raise NothingVerified(result.results)
    return 0
