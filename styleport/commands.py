"""Core verbs: ``styleport stylize`` and ``styleport info``."""

from __future__ import annotations

import argparse
import glob
import sys
from pathlib import Path

from styleport import optimize_command
from styleport.errors import ImageError, UsageError
from styleport.images import DEFAULT_MAX_PIXELS, IMAGE_EXTENSIONS, is_image_file


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
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders or glob patterns")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="output file (one input) or folder (written as <name>.<ext>, created if needed)",
    )
    p.add_argument("--size", type=int, help="resize so the longer side is SIZE pixels before stylizing")
    p.add_argument("--scale", type=float, help="resize by this factor before stylizing")
    p.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps")
    p.add_argument(
        "--precision", choices=["fp32", "bf16", "fp16"], help="default fp32; --optimize: bf16 where native, else fp32"
    )
    p.add_argument("--tile", type=int, help="process in exact tiles of N px (bounded device memory, no seams)")
    p.add_argument("--keep-colors", action="store_true", help="transfer style on luminance only")
    p.add_argument("--strength", type=float, default=1.0, help="blend with the original: 1 = full style, 0 = none")
    p.add_argument("--style-index", type=int, help="multi-style networks: which style (0-based)")
    p.add_argument("--style-weights", help="multi-style networks: mix, e.g. 0.5,0.5")
    p.add_argument(
        "--format",
        choices=sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS),
        help="output format for folder output (default: the input's)",
    )
    p.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help=f"refuse larger images (default {DEFAULT_MAX_PIXELS:,})",
    )
    optimize_command.add_arguments(p)
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
        raise UsageError(f"{output}: several inputs need an output folder, not a file")
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


def run_stylize(args: argparse.Namespace) -> int:
    if args.optimize:
        return optimize_command.run(args)
    optimize_command.refuse_without_optimize(args)
    from tqdm import tqdm

    from styleport.images import load_image, save_image
    from styleport.stylize import StylizeOptions, Stylizer, parse_style_weights, resolve_style_weights

    options = StylizeOptions(
        size=args.size,
        scale=args.scale,
        tile=args.tile,
        keep_colors=args.keep_colors,
        strength=args.strength,
        style_index=args.style_index,
        style_weights=parse_style_weights(args.style_weights),
    )
    inputs = collect_inputs(args.inputs)
    outputs = output_paths(inputs, Path(args.output), args.format)
    stylizer = Stylizer.from_file(args.model, device=args.device, precision=args.precision or "fp32")
    resolve_style_weights(stylizer.model, options)  # check style options before any work
    failed = 0
    bar = tqdm(list(zip(inputs, outputs, strict=True)), unit="img", disable=len(inputs) < 2, file=sys.stderr)
    for src, dst in bar:
        bar.set_postfix_str(src.name)
        try:
            loaded = load_image(src, max_pixels=args.max_pixels)
        except ImageError as exc:
            failed += 1
            tqdm.write(f"styleport: error: {exc}", file=sys.stderr)
            continue
        result = stylizer.stylize(loaded.rgb, options)
        save_image(dst, result, loaded.alpha)
        if len(inputs) == 1:
            print(f"wrote {dst} ({result.width}x{result.height})")
    if len(inputs) > 1:
        print(f"wrote {len(inputs) - failed} of {len(inputs)} images to {args.output}")
    if failed and len(inputs) > 1:
        print(f"styleport: error: {failed} of {len(inputs)} inputs could not be read (see above)", file=sys.stderr)
    return 1 if failed else 0


def run_info(args: argparse.Namespace) -> int:
    from styleport import checkpoints
    from styleport.model import gflops, parameter_count

    ckpt = checkpoints.load(args.model)
    model = ckpt.build()
    cfg = ckpt.config
    dtypes = sorted({str(t.dtype).removeprefix("torch.") for t in ckpt.state_dict.values()})
    print(f"file:        {ckpt.path} ({ckpt.path.stat().st_size / 1e6:.2f} MB, {ckpt.source_format} format)")
    print(
        f"arch:        {cfg.arch}, width {cfg.width:g} (channels {'/'.join(map(str, cfg.channels))}), "
        f"{cfg.res_blocks} residual blocks"
    )
    print(f"styles:      {cfg.num_styles}: {', '.join(ckpt.style_names)}")
    print(f"parameters:  {parameter_count(model):,} (stored as {', '.join(dtypes)})")
    print(f"GFLOPs:      {gflops(model, 256, 256):.1f} at 256x256, {gflops(model, 1080, 1920):.0f} at 1080x1920")
    meta = ckpt.metadata
    for style in meta.get("styles", []):
        print(f"style:       {style.get('name')}: {style.get('source', '?')} (license: {style.get('license', '?')})")
    training = meta.get("training")
    if training:
        summary = ", ".join(f"{k}={v}" for k, v in training.items() if not isinstance(v, (dict, list)))
        print(f"training:    {summary}")
    for key in ("description", "license", "author"):
        if key in meta:
            print(f"{key + ':':<13}{meta[key]}")
    return 0
