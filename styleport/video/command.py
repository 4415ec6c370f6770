"""``styleport stylize MODEL clip.mp4 -o out.mp4``: the options and the run for a video input.

``styleport.commands`` sends a single input here when ``styleport.video.is_video`` says it is
one (decided by content). Everything that can be refused is refused before the first frame.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from styleport.argtypes import float_in, int_in
from styleport.errors import UsageError

VIDEO_FLAGS = ("codec", "crf", "start", "duration", "max_frames", "batch", "report")


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("video inputs (styleport[video])")
    g.add_argument("--codec", help="video encoder (default libx264: H.264, yuv420p)")
    g.add_argument("--crf", type=int_in(0, 63), help="constant quality, lower = better (default 18 for libx264)")
    g.add_argument("--start", type=float_in(0, 1e9), default=0.0, metavar="S", help="start at S seconds")
    g.add_argument("--duration", type=float_in(0, 1e9, lo_open=True), metavar="S", help="stylize S seconds")
    g.add_argument("--max-frames", type=int_in(1), metavar="N", help="stylize at most N frames")
    g.add_argument("--batch", type=int_in(1, 256), metavar="N", help="frames per forward pass (default: ~1 MP)")
    g.add_argument(
        "--report", metavar="REPORT.json", help="also measure flicker (optical flow) and write speed + flicker here"
    )


def refuse_for_images(args: argparse.Namespace) -> None:
    given = [f for f in VIDEO_FLAGS if getattr(args, f) not in (None, 0.0)]
    if given:
        names = ", ".join("--" + f.replace("_", "-") for f in given)
        raise UsageError(f"{names}: only for a video input (the inputs are images)")


def output_path(args: argparse.Namespace, src: Path) -> Path:
    from styleport.images import IMAGE_EXTENSIONS

    output = Path(args.output)
    if output.is_dir():
        output = output / src.name
    if output.suffix.lower() in IMAGE_EXTENSIONS or not output.suffix:
        raise UsageError(f"-o {args.output}: a video input needs a video file name, e.g. out.mp4")
    return output


def expected_frames(info, video) -> int:
    rate = float(info.rate)
    total = max(0, info.expected_frames() - round(video.start * rate))
    if video.duration is not None:
        total = min(total, round(video.duration * rate)) if total else round(video.duration * rate)
    if video.max_frames is not None:
        total = min(total, video.max_frames) if total else video.max_frames
    return total


def run(args: argparse.Namespace, src: Path, options) -> int:
    from tqdm import tqdm

    from styleport.commands import check_not_inputs
    from styleport.fileutil import atomic_output, atomic_write_bytes
    from styleport.stylize import Stylizer, resolve_style_weights
    from styleport.video import io, pipeline

    output = output_path(args, src)
    report = Path(args.report) if args.report else None
    if report is not None and report.resolve() == output.resolve():
        raise UsageError(f"--report {report}: is the video output; pick another name")
    check_not_inputs([output, *([report] if report else [])], [src], Path(args.model))
    if args.codec:
        io.check_codec(args.codec)
    if args.crf is not None and args.codec and args.codec not in io.CRF_CODECS:
        raise UsageError(f"--crf applies to {', '.join(io.CRF_CODECS)}, not {args.codec}")
    info = io.probe(src)  # one line for a corrupt file, no video stream, an unknown codec
    if info.duration and args.start >= info.duration:
        raise UsageError(f"--start {args.start:g}: {src} is only {info.duration:.2f} s long")
    if Path(args.output).is_dir():
        from styleport.fileutil import claim_folder

        claim_folder(args.output, "output")  # as for images: new, empty or styleport-made folders only
    stylizer = Stylizer.from_file(args.model, device=args.device, precision=args.precision or "fp32")
    resolve_style_weights(stylizer.model, options)
    video = pipeline.VideoOptions(args.codec, args.crf, args.start, args.duration, args.max_frames, args.batch,
                                  report is not None)  # fmt: skip
    if report is not None:
        from styleport.video import cv2_module

        cv2_module()  # before any work
    bar = tqdm(total=expected_frames(info, video) or None, unit="frame", desc=src.name, file=sys.stderr,
               dynamic_ncols=True)  # fmt: skip
    try:
        with atomic_output(output) as tmp:
            result = pipeline.stylize_video(stylizer, src, tmp, output, options, video, bar)
    except BaseException:
        bar.leave = False  # the error line stands alone
        raise
    finally:
        bar.close()
    w, h = result.size
    audio = f", {result.audio} audio copied" if result.audio else ""
    print(f"wrote {output} ({w}x{h}, {result.frames} frames, {result.fps:.2f} frames/s, {result.codec}{audio})")
    if result.flicker:
        f = result.flicker
        print(
            f"flicker: {f['stylized']:.2f} stylized vs {f['source']:.2f} source (mean |frame - previous frame "
            f"warped by optical flow| in 0..255 over {f['valid_fraction']:.0%} of pixels)"
        )
    if report is not None:
        import torch

        data = {
            "input": str(src),
            "output": str(output),
            "model": str(args.model),
            "frames": result.frames,
            "size": [w, h],
            "seconds": round(result.seconds, 3),
            "frames_per_s": round(result.fps, 3),
            "codec": result.codec,
            "audio_copied": result.audio,
            "precision": args.precision or "fp32",
            "batch": video.batch or pipeline.auto_batch(result.size, options),
            "torch_threads": torch.get_num_threads(),
            "load_average": list(os.getloadavg()),
            "flicker": result.flicker,
        }
        atomic_write_bytes(report, (json.dumps(data, indent=2) + "\n").encode())
        print(f"wrote {report}")
    return 0
