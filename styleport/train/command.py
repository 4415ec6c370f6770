"""``styleport train``: the command line of the trainer (settings -> TrainConfig -> loop.train).

Precedence: explicit flags > ``--preset`` > TrainConfig defaults. Multi-GPU / multi-node::

    torchrun --nproc-per-node 4 -m styleport train --style a.jpg --data coco/ -o a.pth
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
from pathlib import Path

from styleport.argtypes import float_in, int_in
from styleport.errors import UsageError

RUN_FILES = {"checkpoint.pth", "log.csv", "log.jsonl", "loss.png", "previews", "tensorboard"}
BIG = 10**9


def _layers(text: str) -> tuple[str, ...]:
    return tuple(t.strip() for t in text.split(",") if t.strip())


def _weights(text: str) -> tuple[float, ...]:
    """'0.5,1,2,2' -> (0.5, 1.0, 2.0, 2.0); each finite and >= 0 (argparse turns ValueError into a usage error)."""
    values = tuple(float(t) for t in text.split(",") if t.strip())
    if not values or not all(math.isfinite(v) and v >= 0 for v in values):
        raise argparse.ArgumentTypeError(f"'{text}': expected comma-separated finite weights >= 0")
    return values


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a style network (one or several styles) on a folder of photos",
        description="Train a Johnson et al. style network with a VGG perceptual loss. Several --style images "
        "train one multi-style network (conditional instance norm). Resumable, monitored, DDP via torchrun.",
    )
    p.add_argument("--style", nargs="+", required=True, metavar="IMG", help="style image(s)")
    p.add_argument("--data", required=True, metavar="DIR", help="folder tree of training photos")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.pth", help="final model file")
    p.add_argument("--run-dir", metavar="DIR", help="logs, previews, checkpoint (default: OUTPUT without .pth + .run)")
    p.add_argument("--preset", choices=("quick", "paper"), help="quick: CPU-minutes demo; paper: Johnson et al.")
    p.add_argument("--style-name", nargs="+", metavar="NAME", help="names recorded in the model (default: file stems)")
    p.add_argument("--style-license", metavar="TEXT", help="license of the style image(s), recorded in the model")
    g = p.add_argument_group("training")
    g.add_argument("--image-size", type=int_in(16, 8192), help="training crop size in px (default 256)")
    g.add_argument("--style-size", type=int_in(16, 8192), help="long side of the style image in px (default 512)")
    g.add_argument("--batch-size", type=int_in(1, 4096), help="per-process batch (default 4)")
    g.add_argument("--lr", type=float_in(0, 10, lo_open=True), help="Adam learning rate (default 1e-3)")
    g.add_argument("--steps", type=int_in(1, BIG), help="optimizer steps (default 40000)")
    g.add_argument(
        "--epochs", type=float_in(0, 1e6, lo_open=True), help="train this many passes over the data instead of --steps"
    )
    g.add_argument(
        "--time-limit",
        type=float_in(0, 1e7, lo_open=True),
        metavar="MIN",
        help="stop and save after MIN minutes of training in this run (with --resume: MIN more minutes)",
    )
    g.add_argument("--width", type=float_in(0.05, 4), help="network channel multiplier (default 1.0; 0.5 = half width)")
    g.add_argument(
        "--init", metavar="MODEL.pth", help="fine-tune: start from this model's weights (same --width and styles)"
    )
    g.add_argument("--seed", type=int_in(0, 2**63 - 1), help="seed for init, data order and augmentation (default 0)")
    g = p.add_argument_group("loss")
    g.add_argument("--content-layers", type=_layers, metavar="L,..", help="default relu2_2")
    g.add_argument("--style-layers", type=_layers, metavar="L,..", help="default relu1_1,relu2_1,relu3_1,relu4_1")
    g.add_argument("--content-weight", type=float_in(0, 1e12), help="default 1 (relative error)")
    g.add_argument(
        "--style-weight",
        type=float_in(0, 1e12),
        help="default 1 (relative error, see losses.py); higher = stronger style",
    )
    g.add_argument(
        "--style-layer-weights",
        type=_weights,
        metavar="W,..",
        help="one weight per style layer (default all 1); e.g. 0.5,1,2,2 favours strokes over colour",
    )
    g.add_argument("--tv-weight", type=float_in(0, 1e12), help="total-variation weight (default 0)")
    g.add_argument(
        "--temporal-weight",
        type=float_in(0, 1e12),
        help="stability for video (default 0 = off): outputs of slightly moved + noised crops must move the same way",
    )
    g.add_argument("--vgg-weights", metavar="PATH", help="torchvision vgg16/vgg19 .pth instead of the original VGG19")
    g = p.add_argument_group("speed")
    g.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), help="autocast dtype (default auto)")
    g.add_argument("--no-channels-last", dest="channels_last", action="store_false", default=None)
    g.add_argument("--compile", action="store_true", default=None, help="torch.compile the network")
    g.add_argument("--device", help="auto (default), cpu, cuda, cuda:1 ...")
    g.add_argument("--workers", type=int_in(0, 256), help="DataLoader worker processes (default 2)")
    g.add_argument("--threads", type=int_in(1, 4096), help="torch CPU threads (default: torch's choice)")
    g = p.add_argument_group("monitoring and checkpoints")
    g.add_argument("--log-every", type=int_in(1, BIG), help="steps between log rows (default 10)")
    g.add_argument("--preview-every", type=int_in(1, BIG), help="steps between preview grids (default 500)")
    g.add_argument("--checkpoint-every", type=int_in(1, BIG), help="steps between checkpoints (default 1000)")
    g.add_argument("--preview", nargs="+", metavar="IMG", help="fixed preview photos (default: 4 from --data)")
    g.add_argument("--preview-size", type=int_in(16, 4096), help="preview crop size in px (default 256)")
    g.add_argument("--eval-every", type=int_in(1, BIG), metavar="N", help="log style/content distances every N steps")
    g.add_argument(
        "--eval-photos", nargs="+", metavar="IMG", help="held-out photos for --eval-every (default: samples)"
    )
    g.add_argument("--save-dtype", choices=("fp32", "fp16"), help="dtype of the final model file (default fp32)")
    g.add_argument("--tensorboard", action="store_true", default=None, help="also log to RUN_DIR/tensorboard")
    g.add_argument("--quiet", action="store_true", help="no progress output")
    g.add_argument(
        "--resume",
        nargs="?",
        const="auto",
        metavar="CKPT",
        help="continue from CKPT (default: RUN_DIR/checkpoint.pth) with the same settings",
    )
    p.set_defaults(func=run)


def build_config(args: argparse.Namespace):
    from styleport.train.config import PRESETS, TrainConfig

    output = Path(args.output)
    run_dir = Path(args.run_dir) if args.run_dir else output.with_name(output.stem + ".run")
    values = dict(PRESETS[args.preset]) if args.preset else {}
    flags = {
        "image_size": args.image_size,
        "style_size": args.style_size,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "steps": args.steps,
        "epochs": args.epochs,
        "time_limit": args.time_limit,
        "width": args.width,
        "seed": args.seed,
        "content_layers": args.content_layers,
        "style_layers": args.style_layers,
        "content_weight": args.content_weight,
        "style_weight": args.style_weight,
        "style_layer_weights": args.style_layer_weights,
        "tv_weight": args.tv_weight,
        "temporal_weight": args.temporal_weight,
        "init": args.init,
        "vgg_weights": args.vgg_weights,
        "precision": args.precision,
        "channels_last": args.channels_last,
        "compile": args.compile,
        "device": args.device,
        "workers": args.workers,
        "threads": args.threads,
        "log_every": args.log_every,
        "preview_every": args.preview_every,
        "checkpoint_every": args.checkpoint_every,
        "previews": tuple(args.preview) if args.preview else None,
        "preview_size": args.preview_size,
        "eval_every": args.eval_every,
        "eval_photos": tuple(args.eval_photos) if args.eval_photos else None,
        "save_dtype": args.save_dtype,
        "tensorboard": args.tensorboard,
        "style_license": args.style_license,
        "style_names": tuple(args.style_name) if args.style_name else None,
    }
    values.update({k: v for k, v in flags.items() if v is not None})
    if args.init and not Path(args.init).is_file():
        raise UsageError(f"--init {args.init}: no such model file")
    resume = None
    if args.resume:
        resume = str(run_dir / "checkpoint.pth") if args.resume == "auto" else args.resume
        if not Path(resume).is_file():
            raise UsageError(f"{resume}: no checkpoint to resume from")
    try:
        return TrainConfig(
            styles=tuple(args.style),
            data=args.data,
            output=str(output),
            run_dir=str(run_dir),
            resume=resume,
            progress=not args.quiet,
            command=shlex.join(["styleport", *sys.argv[1:]]) if sys.argv[1:2] == ["train"] else "",
            **values,
        )
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None


def check_outputs(config) -> None:
    """Outputs never overwrite inputs: not a style / preview / weights / resume file, nor inside --data."""
    output, run_dir = Path(config.output).resolve(), Path(config.run_dir).resolve()
    inputs = [*config.styles, *config.previews, config.vgg_weights, config.resume, config.init]
    for item in inputs:
        if item and item not in ("caffe", "random") and Path(item).resolve() in (output, run_dir):
            raise UsageError(f"-o {config.output}: is an input ({item}); refusing to overwrite it")
    data = Path(config.data).resolve()
    for what, path in (("-o", output), ("run dir", run_dir)):
        if path == data or data in path.parents:
            raise UsageError(f"{what} {path}: inside the training data {config.data}; write it elsewhere")
    if output.is_dir():
        raise UsageError(f"-o {config.output}: is a folder; give a model file name like model.pth")


def run(args: argparse.Namespace) -> int:
    from styleport.fileutil import claim_folder, holds_only
    from styleport.train.loop import train

    config = build_config(args)
    check_outputs(config)
    # the run folder: new, empty, made by an earlier run (marker or its files); write-probed here
    claim_folder(config.run_dir, "run", legacy=lambda p: holds_only(p, RUN_FILES))
    train(config)
    return 0
