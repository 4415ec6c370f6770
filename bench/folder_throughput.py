"""Folder stylization throughput vs the model-only rate: is decode/encode hidden behind compute?

    python bench/folder_throughput.py [--count 100] [--size 1024] [--repeats 3] [--threads N]
                                      [--engine torch|onnxruntime]

Makes COUNT JPEG photos (the bundled samples resized, up or down, so the longer side is SIZE, cycled) in a temp
folder, then per repeat, interleaved: (a) model only -- the engine's stylizer (torch ``Stylizer``
at --precision auto, or the onnxruntime ``LightStylizer``; bundled width-0.5 network) on the
already decoded images, no I/O; (b) ``styleport stylize FOLDER -o OUT --engine ENGINE`` through
``styleport.cli.main`` in this process (decode ahead and encode behind in worker threads). Both
after one warm-up image. Prints images/s (median, range) and (b)/(a).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int)
    ap.add_argument("--engine", choices=["torch", "onnxruntime"], default="torch")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    import torch
    from PIL import Image

    from styleport.cli import main as cli
    from styleport.images import load_image
    from styleport.stylize import StylizeOptions, Stylizer

    if args.threads:
        torch.set_num_threads(args.threads)
    model = ROOT / "styleport" / "data" / "models" / "starry_night.pth"
    samples = sorted((ROOT / "styleport" / "data" / "samples").glob("*.jpg"))
    with tempfile.TemporaryDirectory(prefix="styleport-bench-") as tmp_name:
        tmp = Path(tmp_name)
        folder = tmp / "photos"
        folder.mkdir()
        for i in range(args.count):
            img = Image.open(samples[i % len(samples)]).convert("RGB")
            # to a longer side of exactly SIZE (the samples are 512 px: thumbnail() would never enlarge)
            scale = args.size / max(img.size)
            img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
            img.save(folder / f"p{i:03d}.jpg", quality=92)
        if args.engine == "torch":
            stylizer = Stylizer.from_file(model, device="cpu", precision="auto")
        else:
            from styleport.light import LightStylizer

            stylizer = LightStylizer(model, threads=args.threads)
        decoded = [load_image(p).rgb for p in sorted(folder.iterdir())]
        stylizer.stylize(decoded[0], StylizeOptions())  # warm-up
        rates: dict[str, list[float]] = {"model only": [], "stylize folder": []}
        for r in range(args.repeats):
            t = time.perf_counter()
            for img in decoded:
                stylizer.stylize(img, StylizeOptions())
            rates["model only"].append(args.count / (time.perf_counter() - t))
            out = tmp / f"out{r}"
            t = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                code = cli(["stylize", str(model), str(folder), "-o", str(out), "--engine", args.engine])
            rates["stylize folder"].append(args.count / (time.perf_counter() - t))
            if code != 0:
                raise SystemExit(f"styleport stylize exited {code}")
            shutil.rmtree(out)
    load = os.getloadavg()
    print(
        f"{args.count} photos, longer side {args.size} px, bundled width-0.5 net, engine {args.engine}, "
        f"precision {stylizer.precision}, "
        f"{torch.get_num_threads()} threads, {args.repeats} interleaved repeats; "
        f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs"
    )
    print("| path | images/s median | range |")
    print("|---|---|---|")
    for name, values in rates.items():
        print(f"| {name} | {statistics.median(values):.2f} | {min(values):.2f}-{max(values):.2f} |")
    ratio = statistics.median(rates["stylize folder"]) / statistics.median(rates["model only"])
    print(f"stylize folder / model only: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
