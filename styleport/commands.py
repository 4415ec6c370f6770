"""Core verbs: ``styleport stylize`` and ``styleport info``."""

from __future__ import annotations

import argparse
import glob
import math
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from styleport import optimize_command
from styleport.argtypes import float_in, int_in
from styleport.errors import ImageError, OutputError, UsageError
from styleport.images import DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, is_image_file
from styleport.video import command as video_command

MAX_SIDE = 65_535


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stylize",
        help="apply a style network to images",
        description="Stylize image files, folders (recursively) or glob patterns with a model file.",
    )
    p.add_argument(
        "model",
        help="model file (.pth: styleport checkpoint or pytorch/examples state_dict); "
        "with --optimize: the style image(s), a.jpg[,b.jpg...]",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="image files, folders or glob patterns; or one video (styleport[video])",
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="output file (one input) or folder (written as <name>.<ext>, created if needed)",
    )
    p.add_argument("--size", type=int_in(1, MAX_SIDE), help="resize so the longer side is SIZE pixels before stylizing")
    p.add_argument("--scale", type=float_in(0, 16, lo_open=True), help="resize by this factor before stylizing")
    p.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps")
    p.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16", "fp16"],
        default="auto",
        help="auto (default): bf16 on CPUs with native bf16 (avx512_bf16/amx), fp16 on CUDA, else fp32; "
        "--verbose prints the choice and its PSNR vs fp32 measured on the first image",
    )
    p.add_argument(
        "--engine",
        choices=["auto", "torch", "onnxruntime"],
        default="auto",
        help="auto (default): with --device auto/cpu and --precision auto/fp32, onnxruntime fp32 on the CPU "
        "without loading torch -- always for one image up to 1 MP, up to 4 MP and for folders unless the CPU has "
        "native bf16 or a GPU is likely -- else torch; --verbose says which and why",
    )
    p.add_argument(
        "--tile", type=int_in(1, MAX_SIDE), help="process in exact tiles of N px (bounded device memory, no seams)"
    )
    p.add_argument("--keep-colors", action="store_true", help="transfer style on luminance only")
    p.add_argument(
        "--strength", type=float_in(0, 1), default=1.0, help="blend with the original: 1 = full style, 0 = none"
    )
    p.add_argument("--style-index", type=int_in(0), help="multi-style networks: which style (0-based)")
    p.add_argument("--style-weights", help="multi-style networks: mix, e.g. 0.5,0.5")
    p.add_argument(
        "--format",
        choices=sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS),
        help="output format for folder output (default: the input's)",
    )
    p.add_argument(
        "--max-pixels",
        type=int_in(1),
        default=DEFAULT_MAX_PIXELS,
        help=f"refuse larger images (default {DEFAULT_MAX_PIXELS:,})",
    )
    optimize_command.add_arguments(p)
    video_command.add_arguments(p)
    p.set_defaults(func=run_stylize)

    p = sub.add_parser("info", help="describe a model file", description="Architecture, size, FLOPs and metadata.")
    p.add_argument("model")
    p.set_defaults(func=run_info)


def collect_inputs(specs: list[str]) -> list[Path]:
    """Files as given, folders recursively (image extensions only), globs expanded; order kept."""
    found: list[Path] = []
    for spec in specs:
        path = Path(spec)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.is_file() and is_image_file(p)))
        elif path.exists():
            found.append(path)
        elif any(ch in spec for ch in "*?["):
            matches = sorted(Path(m) for m in glob.glob(spec, recursive=True) if Path(m).is_file())
            if not matches:
                raise UsageError(f"{spec}: the pattern matches no files")
            found.extend(matches)
        else:
            raise ImageError(f"{spec}: no such file or folder")
    if not found:
        raise UsageError("no input images found")
    unique = list(dict.fromkeys(p.resolve() for p in found))
    return unique


def output_paths(inputs: list[Path], output: Path, fmt: str | None) -> list[Path]:
    single_file = len(inputs) == 1 and output.suffix.lower() in IMAGE_EXTENSIONS and not output.is_dir()
    if single_file:
        return [output]
    if output.exists() and not output.is_dir():
        if len(inputs) == 1:
            raise UsageError(f"{output}: exists and is not an image file name; give an image name or a new folder")
        raise UsageError(f"{output}: several inputs need an output folder, not a file")
    if not output.exists() and output.suffix.lower() in IMAGE_EXTENSIONS:  # would make a folder named like a picture
        raise UsageError(f"{output}: several inputs need an output folder, not an image file name")
    outs, seen = [], set()
    for src in inputs:
        name = f"{src.stem}.{fmt}" if fmt else src.name
        candidate = output / name
        n = 1
        while candidate in seen:  # photo.jpg from two folders: photo.jpg, photo-1.jpg
            candidate = output / f"{Path(name).stem}-{n}{Path(name).suffix}"
            n += 1
        seen.add(candidate)
        outs.append(candidate)
    return outs


def check_not_inputs(outputs: list[Path], inputs: list[Path], *models: Path) -> None:
    """Outputs never overwrite inputs (the photos, the model file or, for ``--optimize``, the style images)."""
    protected = {p.resolve(): p for p in [*inputs, *models]}
    for out in outputs:
        if out.resolve() in protected:
            raise UsageError(f"{out}: is an input; refusing to overwrite it (choose another output name or folder)")


def run_stylize(args: argparse.Namespace) -> int:
    if args.optimize:
        video_command.refuse_for_images(args)
        return optimize_command.run(args)
    optimize_command.refuse_without_optimize(args)
    from tqdm import tqdm

    from styleport.cli import one_line
    from styleport.fileutil import claim_folder
    from styleport.images import load_image, save_image
    from styleport.stylize_options import StylizeOptions, check_output_pixels, parse_style_weights, style_mix
    from styleport.video import is_video

    options = StylizeOptions(
        size=args.size,
        scale=args.scale,
        tile=args.tile,
        keep_colors=args.keep_colors,
        strength=args.strength,
        style_index=args.style_index,
        style_weights=parse_style_weights(args.style_weights),
        max_pixels=args.max_pixels,
    )
    inputs = collect_inputs(args.inputs)
    if any(is_video(p) for p in inputs):  # by content (styleport/video/__init__.py)
        if len(inputs) > 1:
            raise UsageError("a video is stylized on its own: give one video input per run")
        return video_command.run(args, inputs[0], options)
    video_command.refuse_for_images(args)
    output = Path(args.output)
    outputs = output_paths(inputs, output, args.format)
    check_not_inputs(outputs, inputs, Path(args.model))
    verbose = bool(getattr(args, "verbose", False))
    stylizer = pick_engine(args, inputs, options, verbose)
    style_mix(stylizer.num_styles, options)  # check style options before any work
    if verbose:
        print(f"precision: {stylizer.precision} on {stylizer.device} ({stylizer.precision_reason})", file=sys.stderr)
    if outputs != [output]:
        claim_folder(output, "output")  # a new, empty or styleport-made folder; refused before any work
    failed = unwritten = 0
    pairs = list(zip(inputs, outputs, strict=True))
    bar = tqdm(pairs, unit="img", disable=len(inputs) < 2, file=sys.stderr)
    # Folders: the next photo decodes and the previous result encodes in worker threads while the
    # network runs (Pillow and torch both release the GIL), so I/O hides behind compute.
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="styleport-io")

    def load(src: Path):
        try:
            return load_image(src, max_pixels=args.max_pixels)
        except ImageError as exc:
            return exc

    def save(dst: Path, result, alpha) -> OutputError | None:
        try:
            save_image(dst, result, alpha)
        except OutputError as exc:
            return exc
        return None

    def finish(saving) -> int:
        """Wait for a save; report its error. 1 if it failed."""
        error = saving.result() if saving is not None else None
        if error is not None:
            tqdm.write(f"styleport: error: {one_line(str(error))}", file=sys.stderr)
        return int(error is not None)

    ahead, saving = pool.submit(load, pairs[0][0]), None
    try:
        for i, (src, dst) in enumerate(bar):
            bar.set_postfix_str(src.name)
            loaded = ahead.result()
            if i + 1 < len(pairs):
                ahead = pool.submit(load, pairs[i + 1][0])
            try:
                if isinstance(loaded, ImageError):
                    raise loaded
                out_size = check_output_pixels(*loaded.size, options, name=str(src))
                stylizer.check_memory(*out_size, tiled=options.tile is not None, name=str(src))
            except ImageError as exc:
                failed += 1
                tqdm.write(f"styleport: error: {one_line(str(exc))}", file=sys.stderr)
                continue
            if loaded.frames > 1:
                tqdm.write(
                    f"styleport: note: {src} has {loaded.frames} frames; only the first is stylized", file=sys.stderr
                )
            result = stylizer.stylize(loaded.rgb, options)
            if verbose and src == inputs[0] and stylizer.precision.value != "fp32":
                print(precision_psnr(stylizer, loaded.rgb, result, options, src), file=sys.stderr)
            unwritten += finish(saving)
            saving = pool.submit(save, dst, result, loaded.alpha)
            if len(inputs) == 1:
                bad, saving = finish(saving), None
                unwritten += bad
                if not bad:
                    print(f"wrote {dst} ({result.width}x{result.height})")
        unwritten += finish(saving)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    if len(inputs) > 1:
        print(f"wrote {len(inputs) - failed - unwritten} of {len(inputs)} images to {args.output}")
    problems = [f"{n} {what}" for n, what in ((failed, "could not be read"), (unwritten, "could not be written")) if n]
    if problems and len(inputs) > 1:
        print(f"styleport: error: of {len(inputs)} images, {' and '.join(problems)} (see above)", file=sys.stderr)
    return 1 if failed or unwritten else 0


def light_choice(args: argparse.Namespace, inputs: list[Path], options) -> tuple[bool, str]:
    """(whether this run goes to the torch-free engine, styleport/light.py; why or why not)."""
    from styleport.light import AUTO_LARGE_MAX_PIXELS, AUTO_MAX_PIXELS

    if args.device.lower() not in ("auto", "cpu"):
        return False, f"--device {args.device}"
    if args.precision not in ("auto", "fp32"):
        return False, f"--precision {args.precision}"
    if options.tile is not None:
        return False, "--tile"
    if args.engine == "onnxruntime":
        return True, "engine onnxruntime: chosen with --engine"
    from PIL import Image

    from styleport.precision import cpu_bf16_flags
    from styleport.stylize_options import target_size

    try:
        with Image.open(inputs[0]) as im:  # the header only
            pixels = math.prod(target_size(*im.size, options))
    except Exception:  # noqa: BLE001 -- an unreadable image is reported by the torch path's loader
        return False, "the image header is unreadable"
    if len(inputs) == 1 and pixels <= AUTO_MAX_PIXELS:
        return True, "engine onnxruntime: one image up to 1 MP, no torch start-up"
    # Larger work (several images: the first one's size stands for them): onnxruntime fp32 is still
    # faster than torch fp32 up to ~4 MP (styleport/light.py has the numbers), but not than torch
    # bf16 on CPUs with native bf16, nor than a GPU.
    what = "several images" if len(inputs) > 1 else f"{pixels / 1e6:.1f} MP (above {AUTO_MAX_PIXELS / 1e6:g} MP)"
    if pixels > AUTO_LARGE_MAX_PIXELS:
        return False, f"{pixels / 1e6:.1f} MP: above {AUTO_LARGE_MAX_PIXELS / 1e6:g} MP torch is faster"
    if args.precision == "auto" and (flags := cpu_bf16_flags()):
        return False, f"{what}: torch bf16 is faster on this CPU ({'+'.join(flags)})"
    if args.device.lower() == "auto" and (gpu := gpu_hint()):
        return False, f"{what}: {gpu} may give torch a GPU"
    return True, f"engine onnxruntime: {what} on a CPU without native bf16, where it is faster than torch fp32"


def gpu_hint() -> str | None:
    """What suggests torch would find a GPU, without importing torch (None: nothing does)."""
    if Path("/proc/driver/nvidia/version").exists():
        return "an NVIDIA driver (/proc/driver/nvidia)"
    if sys.platform == "darwin":
        return "macOS (MPS)"
    return None


def pick_engine(args: argparse.Namespace, inputs: list[Path], options, verbose: bool):
    """A LightStylizer (onnxruntime, no torch import) when allowed and able, else a torch Stylizer."""
    if args.engine != "torch":
        light, reason = light_choice(args, inputs, options)
        if light:
            from styleport.light import LightStylizer, NotLight

            try:
                return LightStylizer(args.model, reason=reason)
            except NotLight as exc:
                reason = str(exc)
        if args.engine == "onnxruntime":
            raise UsageError(f"--engine onnxruntime cannot run this: {reason} (use --engine torch or auto)")
        if verbose:
            print(f"engine: torch ({reason})", file=sys.stderr)
    from styleport.stylize import Stylizer

    return Stylizer.from_file(args.model, device=args.device, precision=args.precision or "auto")


def precision_psnr(stylizer, image, result, options, src: Path) -> str:
    """One line: PSNR of ``result`` vs an fp32 run on the same image, measured now (one more pass)."""
    import numpy as np

    from styleport.metrics import psnr
    from styleport.stylize import Stylizer

    reference = Stylizer(stylizer.model, stylizer.checkpoint, stylizer.device, "fp32").stylize(image, options)
    db = psnr(np.asarray(result, np.float64), np.asarray(reference, np.float64))
    return (
        f"precision: {stylizer.precision} vs fp32 on {src.name}: PSNR {db:.1f} dB (measured now, one extra fp32 pass)"
    )


def printable(value) -> str:
    """Metadata text as one line without control characters (no terminal escapes from a file)."""
    return "".join(ch if ch.isprintable() else "?" for ch in str(value))


def run_info(args: argparse.Namespace) -> int:
    from styleport import checkpoints
    from styleport.model import gflops, parameter_count

    ckpt = checkpoints.load(args.model)
    model = ckpt.build()
    cfg = ckpt.config
    dtypes = sorted({str(t.dtype).removeprefix("torch.") for t in ckpt.state_dict.values()})
    print(f"file:        {printable(ckpt.path)} ({ckpt.path.stat().st_size / 1e6:.2f} MB, {ckpt.source_format} format)")
    print(
        f"arch:        {cfg.arch}, width {cfg.width:g} (channels {'/'.join(map(str, cfg.channels))}), "
        f"{cfg.res_blocks} residual blocks"
    )
    print(f"styles:      {cfg.num_styles}: {printable(', '.join(map(str, ckpt.style_names)))}")
    print(f"parameters:  {parameter_count(model):,} (stored as {', '.join(dtypes)})")
    print(f"GFLOPs:      {gflops(model, 256, 256):.1f} at 256x256, {gflops(model, 1080, 1920):.0f} at 1080x1920")
    meta = ckpt.metadata
    for style in meta.get("styles", []):
        print(
            printable(
                f"style:       {style.get('name')}: {style.get('source', '?')} (license: {style.get('license', '?')})"
            )
        )
    training = meta.get("training")
    if training:
        summary = ", ".join(f"{k}={v}" for k, v in training.items() if not isinstance(v, (dict, list)))
        print(f"training:    {printable(summary)}")
    for key in ("description", "license", "author"):
        if key in meta:
            print(f"{key + ':':<13}{printable(meta[key])}")
    return 0
