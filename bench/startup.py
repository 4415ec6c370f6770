"""Start-up cost of ``styleport stylize`` on a small image, whole processes, against ``import torch``.

    python bench/startup.py [--repeats 5] [--size 256] [--large 1024] [--threads 1]

Interleaved per repeat (after one warm-up round for the page cache): ``python -c "import torch"``
(the floor of any PyTorch tool), ``styleport --help``, and ``styleport stylize`` of a photo resized
to SIZE px with the bundled width-0.5 network: by default (auto: the torch-free onnxruntime engine,
styleport/light.py), with ``--engine torch`` (auto precision) and ``--engine torch --precision
fp32``; then both engines on a LARGE px photo, which tells where auto's 1 MP switch should sit.
Prints medians and ranges, then one ``python -X importtime`` run of the default stylize command:
its slowest top-level imports, and whether torch, TensorFlow or coremltools was imported on that
path (none should be).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "tensorflow", "coremltools", "onnxscript", "tensorflowjs", "ai_edge_litert")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--large", type=int, default=1024, help="longer side of the second photo (0: skip)")
    ap.add_argument("--threads", type=int, help="OMP_NUM_THREADS for every process")
    args = ap.parse_args()
    from PIL import Image

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    py = sys.executable
    model = ROOT / "styleport" / "data" / "models" / "starry_night.pth"
    with tempfile.TemporaryDirectory(prefix="styleport-bench-") as tmp_name:
        tmp = Path(tmp_name)
        src = Image.open(ROOT / "styleport" / "data" / "samples" / "colosseum.jpg").convert("RGB")
        runs: dict[str, list[str]] = {"python -c 'import torch'": [py, "-c", "import torch"]}
        runs["styleport --help"] = [py, "-m", "styleport", "--help"]
        shown: dict[int, str] = {}

        def stylize_argv(side: int) -> list[str]:
            """``styleport stylize`` of the sample resized (down or up) to SIDE px."""
            photo = tmp / f"photo{side}.jpg"
            factor = side / max(src.size)
            im = src.resize((round(src.width * factor), round(src.height * factor)), Image.Resampling.LANCZOS)
            im.save(photo, quality=95)
            shown[side] = f"{im.width}x{im.height}"
            return [py, "-m", "styleport", "stylize", str(model), str(photo), "-o", str(tmp / "out.png")]

        traced_argv = stylize_argv(args.size)
        small = shown[args.size]
        runs[f"stylize {small} (default: auto)"] = traced_argv
        runs[f"stylize {small} --engine torch"] = [*traced_argv, "--engine", "torch"]
        runs[f"stylize {small} --engine torch --precision fp32"] = [
            *traced_argv,
            "--engine",
            "torch",
            "--precision",
            "fp32",
        ]
        if args.large:
            large = stylize_argv(args.large)
            runs[f"stylize {shown[args.large]} --engine onnxruntime"] = [*large, "--engine", "onnxruntime"]
            runs[f"stylize {shown[args.large]} --engine torch"] = [*large, "--engine", "torch"]
        times: dict[str, list[float]] = {k: [] for k in runs}
        for r in range(args.repeats + 1):
            for name, argv in runs.items():
                t = time.perf_counter()
                subprocess.run(argv, env=env, check=True, capture_output=True)
                if r:
                    times[name].append(time.perf_counter() - t)
        traced = subprocess.run([py, "-X", "importtime", *traced_argv[1:]], env=env, capture_output=True, text=True)
    load = os.getloadavg()
    print(
        f"whole processes, photos {' and '.join(shown.values())}, {args.repeats} interleaved repeats, threads "
        f"{args.threads or 'default'}; load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
        f"on {os.cpu_count()} CPUs"
    )
    print("| process | median s | range s |")
    print("|---|---|---|")
    for name, ts in times.items():
        print(f"| {name} | {statistics.median(ts):.2f} | {min(ts):.2f}-{max(ts):.2f} |")
    rows, imported = [], set()
    for line in traced.stderr.splitlines():  # "import time: <self us> | <cumulative us> | <indented name>"
        parts = line.split("|")
        if not line.startswith("import time:") or len(parts) != 3 or not parts[1].strip().isdigit():
            continue
        name = parts[2][1:]  # indentation = nesting depth
        imported.add(name.strip().split(".")[0])
        if not name.startswith(" "):
            rows.append((int(parts[1]), name))
    print(
        f"\nslowest top-level imports of the default `styleport stylize` of the {shown[args.size]} photo (python -X importtime, cumulative):"
    )
    for us, name in sorted(rows, reverse=True)[:8]:
        print(f"  {us / 1e6:6.2f} s  {name}")
    heavy = sorted(imported & set(HEAVY))
    print(f"torch or optional heavy packages imported on that path: {', '.join(heavy) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
