"""``styleport stylize --optimize`` vs pastiche 1.6.0 (Gatys et al., L-BFGS): whole-process time at
equal output size and steps, measured side by side in one run, plus the style/content distances of
both results (styleport.evaluate, original VGG19, fp32).

    python bench/optimize_vs_pastiche.py --style /path/painting.png --size 384 --steps 200

Both tools run one VGG19 forward+backward per L-BFGS step (no line search), style layers
relu1_1..relu5_1, content relu4_2, the style image at the output's long side. styleport runs in
its default precision (bf16 where the CPU has it natively) and in fp32. If pastiche cannot run here,
the bench says why and compares with the recorded figure (pastiche 1.6.0, 200 steps at 384 px:
262 s whole process on the 2-core development CPU, ../shared/notes/toolchain-facts.md).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECORDED_PASTICHE_S = 262.0  # 200 L-BFGS steps at 384 px, whole process (toolchain-facts.md)


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def pastiche_problem() -> str | None:
    """Why pastiche's CLI cannot run here, or None."""
    if importlib.util.find_spec("pastiche") is None:
        return "pastiche is not installed (pip install --no-deps pastiche==1.6.0)"
    proc = subprocess.run([sys.executable, "-m", "pastiche", "--version"], capture_output=True, text=True)
    if proc.returncode != 0:
        return f"pastiche --version failed: {(proc.stderr.strip().splitlines() or ['?'])[-1]}"
    return None


def main() -> int:
    from styleport.images import sample_photos

    default_photo = next(p for p in sample_photos() if p.stem == "colosseum")
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photo", type=Path, default=default_photo)
    ap.add_argument("--style", type=Path, default=ROOT / "styleport/data/models/great_wave.jpg")
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--runs", type=int, default=1, help="interleaved runs of each tool (medians reported)")
    ap.add_argument("--no-fp32", action="store_true", help="skip styleport's fp32 run")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="optbench-"))
    outputs = {
        "styleport (default precision)": work / "styleport.png",
        "styleport fp32": work / "styleport_fp32.png",
        "pastiche 1.6.0": work / "pastiche.png",
    }
    sp = [sys.executable, "-m", "styleport", "stylize", "--optimize", str(args.style), str(args.photo)]
    sp += ["--size", str(args.size), "--steps", str(args.steps)]
    cmds = {
        "styleport (default precision)": [*sp, "-o", str(outputs["styleport (default precision)"])],
        "styleport fp32": [*sp, "--precision", "fp32", "-o", str(outputs["styleport fp32"])],
    }
    if args.no_fp32:
        del cmds["styleport fp32"]
    problem = pastiche_problem()
    if problem is None:
        cmds["pastiche 1.6.0"] = [
            sys.executable, "-m", "pastiche", "--content", str(args.photo), "--styles", str(args.style),
            "--output", str(outputs["pastiche 1.6.0"]), "--size", str(args.size), "--style-size", str(args.size),
            "--num-steps", str(args.steps), "--optimizer", "lbfgs", "--no-verbose",
        ]  # fmt: skip
    else:
        print(f"pastiche cannot run here: {problem}")
    times: dict[str, list[float]] = {k: [] for k in cmds}
    for run in range(args.runs):
        for name, cmd in cmds.items():
            times[name].append(timed(cmd))
            print(f"run {run + 1}: {name}: {times[name][-1]:.1f} s", flush=True)

    print(f"\n{args.photo.name} with {args.style.name}, {args.size} px long side, {args.steps} L-BFGS steps")
    med = {k: statistics.median(v) for k, v in times.items()}
    for name, t in med.items():
        print(f"  {name:<30} {t:7.1f} s  (runs: {', '.join(f'{x:.1f}' for x in times[name])})")
    base = med.get("pastiche 1.6.0")
    label = "pastiche measured in this run"
    if base is None:
        base, label = RECORDED_PASTICHE_S, f"pastiche's recorded {RECORDED_PASTICHE_S:.0f} s (not this run)"
        if (args.size, args.steps) != (384, 200):
            print("  (the recorded pastiche figure is for 384 px and 200 steps: this ratio is not like for like)")
    for name in cmds:
        if name.startswith("styleport"):
            print(f"  speed-up of {name} over {label}: {base / med[name]:.2f}x")
    print_quality(args, {k: v for k, v in outputs.items() if v.exists()})
    print(f"\nimages in {work}")
    return 0


def print_quality(args: argparse.Namespace, outputs: dict[str, Path]) -> None:
    """Style distance (relu1_1..relu5_1) and content distance of each result, same meter for all."""
    from styleport.evaluate import QualityMeter
    from styleport.images import load_image, pil_to_tensor
    from styleport.optimize_command import resize_long

    print("\nquality (styleport.evaluate: style distance 1 = the photo's, 0 = the painting's):")
    for name, path in outputs.items():
        out = load_image(path).rgb
        photo = pil_to_tensor(load_image(args.photo).rgb.resize(out.size))
        meter = QualityMeter(pil_to_tensor(resize_long(load_image(args.style).rgb, max(out.size))))
        score = meter.measure(pil_to_tensor(out), photo)
        style = " ".join(f"{v:.3f}" for v in score["style"].values())
        content = " ".join(f"{v:.3f}" for v in score["content"].values())
        print(f"  {name:<30} style relu1_1..5_1: {style} | content relu2_2, relu4_2: {content}")


if __name__ == "__main__":
    sys.exit(main())
