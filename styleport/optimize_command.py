"""``styleport stylize --optimize``: Gatys et al. image optimization from the command line.

In optimize mode the painting takes the model's place::

    styleport stylize --optimize wave.jpg photo.jpg -o out.jpg
    styleport stylize --optimize wave.jpg,starry.jpg photo.jpg -o out.jpg --style-weights 0.7,0.3

The first argument names the style image, or several separated by commas (neural-style's
``-style_image a.jpg,b.jpg``; a name that exists as a file is never split). ``--style-weights``
blends them (for a network it mixes a multi-style network's styles: the same idea).
Options are checked at parse time (numbers) or before any work (files, weights, memory).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from styleport.errors import ImageError, UsageError

DEFAULT_SIZE = 512  # output long side when neither --size nor --scale is given (neural-style's default)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _float_at_least(low: float, strict: bool):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
        if not (value > low if strict else value >= low) or value != value or value == float("inf"):
            raise argparse.ArgumentTypeError(f"must be {'>' if strict else '>='} {low:g} and finite, got {text}")
        return value

    return parse


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The --optimize options of ``styleport stylize`` (no heavy imports here)."""
    g = p.add_argument_group(
        "image optimization (--optimize: Gatys et al. 2016; MODEL is then the style image(s), a.jpg[,b.jpg...])"
    )
    g.add_argument("--optimize", action="store_true", help="optimize each image with the VGG19 loss instead")
    g.add_argument("--steps", type=_positive_int, help="optimizer steps (default 300)")
    g.add_argument("--optimizer", choices=("lbfgs", "adam"), help="default lbfgs")
    g.add_argument("--lr", type=_float_at_least(0, True), help="Adam learning rate in pixel units (default 4)")
    g.add_argument("--init", choices=("photo", "noise"), help="start image (default photo)")
    g.add_argument("--style-scale", type=_float_at_least(0, True), help="style image size / output size (default 1)")
    g.add_argument("--content-weight", type=_float_at_least(0, False), help="default 1")
    g.add_argument("--style-weight", type=_float_at_least(0, True), help="default 1")
    g.add_argument("--tv-weight", type=_float_at_least(0, False), help="default 0")
    g.add_argument("--save-every", type=_positive_int, metavar="N", help="also write OUT_0100.png ... every N steps")
    g.add_argument("--seed", type=int, help="noise seed for --init noise (default 0)")
    g.add_argument(
        "--max-memory",
        type=_float_at_least(0, True),
        metavar="GiB",
        help="refuse images whose VGG activations need more (default: the memory available now)",
    )


OPTIMIZE_ONLY = ("steps", "optimizer", "lr", "init", "style_scale", "content_weight", "style_weight", "tv_weight",
                 "save_every", "seed", "max_memory")  # fmt: skip


def refuse_without_optimize(args: argparse.Namespace) -> None:
    """Optimization options given to a network run would be silently ignored: refuse them."""
    given = [f"--{k.replace('_', '-')}" for k in OPTIMIZE_ONLY if getattr(args, k, None) is not None]
    if given:
        raise UsageError(f"{', '.join(given)} only apply with --optimize")


def split_styles(spec: str) -> list[Path]:
    """'a.jpg' or 'a.jpg,b.jpg' -> paths (an existing file name containing a comma is kept whole)."""
    if Path(spec).exists():
        return [Path(spec)]
    parts = [Path(s) for s in spec.split(",") if s.strip()]
    if not parts:
        raise UsageError("--optimize: give the style image(s) in place of the model, e.g. wave.jpg or a.jpg,b.jpg")
    return parts


def load_styles(paths: list[Path], max_pixels: int):
    """Every style image read before any work: one ImageError line naming a bad one."""
    from styleport.images import load_image

    for path in paths:
        if path.suffix.lower() == ".pth":
            raise UsageError(f"{path}: --optimize takes style images in place of the model, not a model file")
    return [load_image(p, max_pixels=max_pixels).rgb for p in paths]


def config_from_args(args: argparse.Namespace, n_styles: int):
    from styleport.optimize import OptimizeConfig
    from styleport.stylize import parse_style_weights

    if args.precision == "fp16":
        raise UsageError("--optimize runs fp32 or bf16 (fp16 gradients underflow in the Gram terms)")
    blend = parse_style_weights(args.style_weights)
    if args.style_index is not None or args.tile is not None or args.strength != 1.0:
        raise UsageError("--style-index, --tile and --strength apply to networks, not to --optimize")
    given = {k: getattr(args, k) for k in OPTIMIZE_ONLY if k in OptimizeConfig.__dataclass_fields__}
    config = OptimizeConfig(
        blend=blend, precision=args.precision or "auto", **{k: v for k, v in given.items() if v is not None}
    )
    config.weights_for(n_styles)  # the weight count, before any work
    return config


def resize_long(img, long_side: int):
    from PIL import Image

    scale = long_side / max(img.size)
    return img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.Resampling.LANCZOS)


def snapshot_path(dst: Path, step: int) -> Path:
    """out.jpg -> out_0100.jpg (next to the output)."""
    return dst.with_name(f"{dst.stem}_{step:04d}{dst.suffix}")


def run(args: argparse.Namespace) -> int:
    import torch
    from PIL import Image
    from tqdm import tqdm

    from styleport.commands import check_not_inputs, collect_inputs, output_paths
    from styleport.images import load_image, pil_to_tensor, save_image, tensor_to_pil
    from styleport.optimize import check_memory, optimize, resolve_dtype
    from styleport.stylize import StylizeOptions, keep_colors, resolve_device, target_size
    from styleport.train.vgg import load_caffe_vgg19

    style_paths = split_styles(args.model)
    config = config_from_args(args, len(style_paths))
    sizing = StylizeOptions(size=args.size, scale=args.scale)  # validates --size/--scale
    if args.size is None and args.scale is None:
        sizing = StylizeOptions(size=DEFAULT_SIZE)
    inputs = collect_inputs(args.inputs)
    outputs = output_paths(inputs, Path(args.output), args.format)
    for src in inputs:
        if src in {p.resolve() for p in style_paths}:
            raise UsageError(f"{src}: is both a style image and an input")
    check_not_inputs(outputs, inputs, *style_paths)
    styles = load_styles(style_paths, args.max_pixels)
    device = resolve_device(args.device)
    dtype = resolve_dtype(config.precision, device)
    limit = int(args.max_memory * 2**30) if args.max_memory else None
    weights = load_caffe_vgg19()
    failed = 0
    for src, dst in zip(inputs, outputs, strict=True):
        try:
            photo = load_image(src, max_pixels=args.max_pixels).rgb
        except ImageError as exc:
            failed += 1
            print(f"styleport: error: {exc}", file=sys.stderr)
            continue
        size = target_size(*photo.size, sizing)
        # fp32: the first optimize.FP32_WARMUP steps run the VGG in fp32 whatever the precision
        check_memory(str(src), size[1], size[0], config.style_layers + config.content_layers, torch.float32, device,
                     limit)  # fmt: skip
        photo = photo.resize(size, Image.Resampling.LANCZOS) if size != photo.size else photo
        style_side = max(16, round(config.style_scale * max(size)))
        style_ts = [pil_to_tensor(resize_long(s, style_side)) for s in styles]
        bar = tqdm(total=config.steps, unit="step", desc=src.name, file=sys.stderr, dynamic_ncols=True)

        def finish(t: torch.Tensor, photo=photo):
            out = tensor_to_pil(t)
            return keep_colors(out, photo) if args.keep_colors else out

        def on_step(step: int, parts: dict[str, float], bar=bar) -> bool:
            bar.set_postfix_str(f"loss {parts['total']:.4g} (c {parts['content']:.3g} s {parts['style']:.3g})", False)
            bar.update(1)
            return bool(args.save_every) and step % args.save_every == 0 and step < config.steps

        def save_snapshot(step: int, t: torch.Tensor, parts, dst=dst, finish=finish) -> None:
            save_image(snapshot_path(dst, step), finish(t))

        try:
            result, parts = optimize(pil_to_tensor(photo), style_ts, config, weights, device, save_snapshot, on_step)
        finally:
            bar.close()
        out = finish(result)
        save_image(dst, out)
        print(
            f"wrote {dst} ({out.width}x{out.height}, {config.steps} {config.optimizer} steps, "
            f"{str(dtype).removeprefix('torch.')}, loss {parts['total']:.4g}: content {parts['content']:.3g}, "
            f"style {parts['style']:.3g})"
        )
    if failed:
        print(f"styleport: error: {failed} of {len(inputs)} inputs could not be read (see above)", file=sys.stderr)
    return 1 if failed else 0
