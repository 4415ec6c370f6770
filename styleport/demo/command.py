"""``styleport demo``: with no verb, the README's main job (styleport/demo/job.py: stylize the
bundled photos with every shipped style, export every format and precision, run the parity suite,
build the web demo); ``build`` assembles the static site, ``serve`` serves it locally.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from styleport.argtypes import PORT, int_in
from styleport.precision import Precision


def register(subparsers) -> None:
    demo = subparsers.add_parser(
        "demo",
        help="the main job end to end (no verb); build / serve the in-browser web demo",
        description="With no verb: stylize the bundled photos with every shipped style, export every format and "
        "precision, check parity in each runtime, and build the web demo, all on the bundled defaults.",
    )
    demo.add_argument(
        "-o", "--out", type=Path, default=Path("styleport-demo"), help="output folder (default: styleport-demo/)"
    )
    demo.add_argument("--models", nargs="+", type=Path, metavar="M.pth", help="checkpoints (default: bundled models)")
    demo.add_argument("--no-parity", action="store_true", help="skip the export + parity step")
    demo.add_argument("--no-site", action="store_true", help="skip building the web demo")
    demo.add_argument(
        "--runs", type=int_in(1, 1000), default=3, help="timed runs per artifact in the parity step (default 3)"
    )
    verbs = demo.add_subparsers(dest="demo_command", metavar="VERB")
    demo.set_defaults(func=_main_job)

    build = verbs.add_parser("build", help="assemble the static site with exported models and the manifest")
    build.add_argument("--models", nargs="+", type=Path, metavar="M.pth", help="checkpoints (default: bundled models)")
    build.add_argument(
        "-o",
        "--out",
        type=Path,
        default=Path("site"),
        help="output folder: new, or a site built before (default: site/)",
    )
    build.add_argument("--formats", default="onnx,tfjs", help="engines to ship: onnx, tfjs or both (default)")
    build.add_argument("--onnx-precision", type=Precision.parse, default=Precision.FP32, help="fp32 (default) or fp16")
    build.add_argument(
        "--tfjs-precision", type=Precision.parse, default=Precision.UINT8, help="uint8 (default, 1/4 size), fp16, fp32"
    )
    build.add_argument("--no-verify", action="store_true", help="skip the parity check of each export (faster)")
    build.add_argument(
        "--thumbnail", action="append", default=[], metavar="STYLE=IMAGE", help="painting shown for a style name"
    )
    build.add_argument(
        "--js-dir",
        "--node-modules",
        dest="js_dir",
        type=Path,
        metavar="DIR",
        help="folder with the npm runtimes (onnxruntime-web, @tensorflow/tfjs...; default: ./node_modules, "
        "then the checkout's)",
    )
    build.set_defaults(func=_build)

    serve = verbs.add_parser("serve", help="serve a built site on 127.0.0.1 with cross-origin isolation headers")
    serve.add_argument("site", type=Path, nargs="?", default=Path("site"), help="built site folder (default: site/)")
    serve.add_argument("--port", type=PORT, default=8000, help="port (default 8000; 0 = any free port)")
    serve.set_defaults(func=_serve)


def _main_job(args: argparse.Namespace) -> int:
    from styleport.demo.job import JobConfig, run

    if args.runs < 1:
        from styleport.errors import UsageError

        raise UsageError(f"--runs must be >= 1, got {args.runs}")
    from styleport import quiet

    config = JobConfig(
        out=args.out, models=tuple(args.models or ()), parity=not args.no_parity, site=not args.no_site, runs=args.runs
    )
    with quiet.third_party():  # TensorFlow / coremltools / LiteRT chatter -> the log (styleport/quiet.py)
        return run(config, say=quiet.say)


def _thumbnails(items: list[str]) -> tuple[tuple[str, Path], ...]:
    from styleport.errors import UsageError

    out = []
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise UsageError(f"--thumbnail {item}: expected STYLE=IMAGE")
        out.append((name, Path(path)))
    return tuple(out)


def _build(args) -> int:
    from styleport import quiet
    from styleport.demo.build import BuildConfig, build_site, default_models

    config = BuildConfig(
        models=tuple(args.models) if args.models else default_models(),
        out=args.out,
        formats=tuple(f.strip() for f in args.formats.split(",") if f.strip()),
        onnx_precision=args.onnx_precision,
        tfjs_precision=args.tfjs_precision,
        verify=not args.no_verify,
        thumbnails=_thumbnails(args.thumbnail),
        node_modules=args.js_dir,
    )
    with quiet.third_party():
        build_site(config, progress=quiet.say)
    return 0


def _serve(args) -> int:
    from styleport.demo.serve import serve

    return serve(args.site, args.port)
