"""``styleport stylize`` against the anchor, pytorch/examples ``neural_style.py eval``, whole processes.

    python bench/stylize_vs_examples.py --examples DIR [--repeats 5] [--size 1080x1920] [--no-model-only]

DIR is a checkout of https://github.com/pytorch/examples' ``fast_neural_style/neural_style``
folder (``git clone`` it yourself; nothing is downloaded here). Its code runs from there, unchanged.

Same network for both: a seeded width-1.0 random-init TransformerNet (``styleport.testing.
stand_in_net``; trained-like output range) saved as a plain pytorch/examples state_dict, which both
tools load. Same input: a sample photo resized to the size (JPEG q95). Every process is timed whole
(interpreter start, imports, model load, decode, forward, encode), all variants interleaved per
repeat so machine-load drift hits them alike; printed: median, range, and speed-up vs examples.
styleport rows: ``--engine torch`` at fp32 and at ``--precision auto``, and the default engine choice
(``--engine auto``: onnxruntime fp32 up to 4 MP on CPUs without native bf16, see DESIGN.md) for the
same width-1.0 file and for a bundled width-0.5 network.

torchvision: ``neural_style.py`` imports it at the top (transforms.ToTensor for eval; datasets and
models only for training). Where torchvision is not installed (no wheel matching torch 2.13 here)
the bench puts a shim package on the examples' PYTHONPATH only: ``transforms.ToTensor`` = uint8 HWC
-> float CHW / 255 (torchvision's documented behaviour for RGB PIL images), ``Compose``, ``Lambda``;
empty ``datasets`` and ``models``. The report says which one ran.

Then, in this process (unless --no-model-only): model-only forward time at the size for the
original network, the exact sub-pixel rewrite (``styleport.subpixel``) and that plus the output conv
as space-to-depth (what ``Stylizer`` runs) in fp32 and, on CPUs with native bf16, bf16; widths 1.0
and 0.5, interleaved, against the bf16 GEMM peak measured here (bench/gemm_peak.py; fp32's on CPUs
without native bf16).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHIM = {
    "__init__.py": "from . import datasets, models, transforms  # styleport bench shim, not torchvision\n",
    "datasets.py": "",
    "models.py": "",
    "transforms.py": (
        "import numpy as np\nimport torch\n\n\n"
        "class Compose:\n    def __init__(self, fns):\n        self.fns = fns\n\n"
        "    def __call__(self, x):\n        for f in self.fns:\n            x = f(x)\n        return x\n\n\n"
        "class Lambda:\n    def __init__(self, fn):\n        self.fn = fn\n\n"
        "    def __call__(self, x):\n        return self.fn(x)\n\n\n"
        "class ToTensor:\n    def __call__(self, pic):  # RGB PIL -> (3,H,W) float 0..1\n"
        "        a = torch.from_numpy(np.array(pic, np.uint8, copy=True))\n"
        "        return a.permute(2, 0, 1).contiguous().to(torch.get_default_dtype()).div(255)\n"
    ),
}


def parse_size(text: str) -> tuple[int, int]:
    h, _, w = text.partition("x")
    return int(h), int(w or h)


def prepare(tmp: Path, size: tuple[int, int]) -> tuple[Path, Path, str]:
    """(photo, width-1.0 state_dict, shim PYTHONPATH or '') in ``tmp``."""
    import torch
    from PIL import Image

    from styleport.testing import stand_in_net

    photo = tmp / "photo.jpg"
    src = Image.open(ROOT / "styleport" / "data" / "samples" / "colosseum.jpg").convert("RGB")
    src.resize((size[1], size[0]), Image.Resampling.LANCZOS).save(photo, quality=95)
    weights = tmp / "w1.pth"
    torch.save(stand_in_net(width=1.0).state_dict(), weights)
    if importlib.util.find_spec("torchvision") is not None:
        return photo, weights, ""
    pkg = tmp / "shim" / "torchvision"
    pkg.mkdir(parents=True)
    for name, text in SHIM.items():
        (pkg / name).write_text(text)
    return photo, weights, str(tmp / "shim")


def variants(
    examples: Path, photo: Path, weights: Path, shim: str, tmp: Path, threads: int | None
) -> list[tuple[str, list, dict]]:
    py = sys.executable
    bundled = ROOT / "styleport" / "data" / "models" / "starry_night.pth"
    env = dict(os.environ)
    env.pop("OMP_NUM_THREADS", None)  # every process: torch's default threads (all cores) ...
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)  # ... or the same fixed number for all
    ex_env = {**env, "PYTHONPATH": shim} if shim else env
    sp_env = {**env, "PYTHONPATH": str(ROOT)}
    stylize = [py, "-m", "styleport", "stylize"]
    return [
        (
            "examples eval fp32 (w1.0)",
            [
                py,
                str(examples / "neural_style.py"),
                "eval",
                "--content-image",
                str(photo),
                "--output-image",
                str(tmp / "ex.png"),
                "--model",
                str(weights),
            ],
            ex_env,
        ),
        (
            "styleport torch fp32 (w1.0)",
            [*stylize, str(weights), str(photo), "-o", str(tmp / "a.png"), "--precision", "fp32", "--engine", "torch"],
            sp_env,
        ),
        (
            "styleport torch auto (w1.0)",
            [*stylize, str(weights), str(photo), "-o", str(tmp / "b.png"), "--engine", "torch"],
            sp_env,
        ),
        ("styleport default (w1.0)", [*stylize, str(weights), str(photo), "-o", str(tmp / "d.png")], sp_env),
        ("styleport default (w0.5 bundled)", [*stylize, str(bundled), str(photo), "-o", str(tmp / "c.png")], sp_env),
    ]


def run_processes(runs, examples: Path, repeats: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name, _, _ in runs}
    for r in range(repeats + 1):  # repeat 0: warm-up (page cache), not counted
        for name, argv, env in runs:
            cwd = examples if name.startswith("examples") else ROOT
            t = time.perf_counter()
            done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
            dt = time.perf_counter() - t
            if done.returncode != 0:
                raise SystemExit(f"{name} failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
            if r:
                times[name].append(dt)
    return times


def model_only(size: tuple[int, int], repeats: int, widths: tuple[float, ...] = (1.0, 0.5)) -> None:
    import torch
    from gemm_peak import describe, gemm_peak  # bench/ is on sys.path when run as a script

    from styleport.model import gflops
    from styleport.precision import native_cpu_bf16
    from styleport.subpixel import fuse
    from styleport.testing import stand_in_net

    x = torch.rand(1, 3, *size) * 255
    # bf16 only where the CPU has it: emulated bf16 (AVX2, plain AVX-512) is 10-40x slower than fp32
    dtypes = (torch.float32, torch.bfloat16) if native_cpu_bf16() else (torch.float32,)
    rows = []
    for width in widths:
        net = stand_in_net(width=width)
        forms = (
            ("original", net),
            ("subpixel", fuse(net)),
            ("subpixel + output phases", fuse(net, output_phases=True)),
        )
        g = gflops(net, *size)
        for dtype in dtypes:
            for label, m in forms:
                rows.append((f"w{width:g} {str(dtype)[6:]} {label}", m, dtype, g))
    times: dict[str, list[float]] = {name: [] for name, *_ in rows}
    with torch.inference_mode():
        for r in range(repeats + 1):
            for name, m, dtype, _ in rows:
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
                    t = time.perf_counter()
                    m(x)
                    if r:
                        times[name].append(time.perf_counter() - t)
    # the bf16 peak where the CPU has bf16 (the issue's yardstick), else fp32's (emulated bf16 is no peak)
    peak_dtype = torch.bfloat16 if torch.bfloat16 in dtypes else torch.float32
    peak, peak_name = gemm_peak(peak_dtype), str(peak_dtype)[6:]
    print(
        f"\nmodel only at {size[0]}x{size[1]}, {torch.get_num_threads()} threads, {repeats} interleaved repeats; "
        f"{peak_name} GEMM peak measured now: {peak:.0f} GFLOP/s ({describe()})"
    )
    print(f"| network | median s | range s | GFLOP (original count) | effective GFLOP/s | % {peak_name} peak |")
    print("|---|---|---|---|---|---|")
    for name, _, _, g in rows:
        med = statistics.median(times[name])
        print(
            f"| {name} | {med:.2f} | {min(times[name]):.2f}-{max(times[name]):.2f} | {g:.0f} | {g / med:.0f} "
            f"| {100 * g / med / peak:.0f}% |"
        )


def whole_processes(args: argparse.Namespace, size: tuple[int, int]) -> None:
    with tempfile.TemporaryDirectory(prefix="styleport-bench-") as tmp_name:
        tmp = Path(tmp_name)
        photo, weights, shim = prepare(tmp, size)
        runs = variants(args.examples, photo, weights, shim, tmp, args.threads)
        times = run_processes(runs, args.examples, args.repeats)
    load = os.getloadavg()
    print(
        f"whole processes at {size[0]}x{size[1]}, {args.repeats} interleaved repeats after a warm-up, "
        f"threads {args.threads or 'default'}; "
        f"torchvision: {'shim (not installed)' if shim else 'installed'}; "
        f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs"
    )
    base = statistics.median(times[runs[0][0]])
    print("| process | median s | range s | speed-up vs examples |")
    print("|---|---|---|---|")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"| {name} | {med:.2f} | {min(ts):.2f}-{max(ts):.2f} | {base / med:.2f}x |")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", type=Path, help="pytorch/examples fast_neural_style/neural_style")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--size", default="1080x1920", help="HxW")
    ap.add_argument("--no-model-only", action="store_true")
    ap.add_argument("--model-only", action="store_true", help="skip the whole-process part")
    ap.add_argument("--widths", default="1.0,0.5", help="network widths for the model-only part")
    ap.add_argument("--threads", type=int, help="OMP_NUM_THREADS for every process and the model-only part")
    args = ap.parse_args()
    size = parse_size(args.size)
    sys.path.insert(0, str(ROOT))
    if not args.model_only:
        if args.examples is None or not (args.examples / "neural_style.py").is_file():
            raise SystemExit(f"{args.examples}: no neural_style.py (clone pytorch/examples first)")
        whole_processes(args, size)
    if not args.no_model_only:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
        model_only(size, args.repeats, tuple(float(w) for w in args.widths.split(",")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
