"""Video throughput: the whole ``stylize`` pipeline vs the network alone, at 512 px and 1080p.

    python bench/video_throughput.py [MODEL.pth] [--sizes 512x288 1920x1080] [--frames 24]
                                     [--precision fp32|bf16] [--batch N]

For each size: a synthetic clip (pan and zoom over a bundled sample photo, sine tone) is written
to a temp folder, then (1) the network alone runs on the same number of frames in the same batches
(decoded frames already in memory, no encoding) and (2) ``styleport stylize`` runs on the clip
(decode, stylize, encode in threads, audio copied). Prints frames/s of both, their ratio (how
close the pipeline is to the model-only rate) and the load average, since the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from styleport.images import sample_photos
from styleport.stylize import StylizeOptions, Stylizer
from styleport.video import io, pipeline
from styleport.video.synthetic import make_clip

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "styleport" / "data" / "models" / "starry_night.pth"


def model_only(stylizer: Stylizer, frames: list[np.ndarray], batch: int) -> float:
    """Frames/s of the network on in-memory frames, batched like the pipeline."""
    items = [io.Decoded(f, i, None) for i, f in enumerate(frames)]
    pipeline._run(stylizer, items[:batch], None, StylizeOptions())  # warm-up
    t0 = time.perf_counter()
    for i in range(0, len(items), batch):
        pipeline._run(stylizer, items[i : i + batch], None, StylizeOptions())
    return len(items) / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", default=str(DEFAULT_MODEL))
    parser.add_argument("--sizes", nargs="+", default=["512x288", "1920x1080"])
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--batch", type=int)
    args = parser.parse_args()
    stylizer = Stylizer.from_file(args.model, device="cpu", precision=args.precision)
    print(f"model {Path(args.model).name}, {args.precision}, torch threads {torch.get_num_threads()}")
    with tempfile.TemporaryDirectory() as tmp:
        for spec in args.sizes:
            w, h = (int(v) for v in spec.split("x"))
            clip = make_clip(Path(tmp) / f"clip_{spec}.mp4", sample_photos()[0], (w, h), args.frames, 24)
            batch = args.batch or pipeline.auto_batch((w, h), StylizeOptions())
            with io.open_input(clip) as c:
                info = io.probe(clip)
                frames = [d.rgb for d in io.read(c, info, (w, h))]
            load0 = os.getloadavg()[0]
            net_fps = model_only(stylizer, frames, batch)
            video = pipeline.VideoOptions(batch=batch)
            out = Path(tmp) / f"out_{spec}.mp4"
            result = pipeline.stylize_video(stylizer, clip, out, out, StylizeOptions(), video)
            load1 = os.getloadavg()[0]
            print(
                f"{w}x{h}: {args.frames} frames, batch {batch}: network alone {net_fps:.2f} frames/s, "
                f"stylize pipeline {result.fps:.2f} frames/s ({result.fps / net_fps:.2f}x); "
                f"load average {load0:.1f} -> {load1:.1f}"
            )


if __name__ == "__main__":
    main()
