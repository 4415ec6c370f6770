"""CoreML palette files against both references, on every bundled network (numbers behind tolerances.EMULATED).

    python bench/palette_emulation.py [--models great_wave,trio] [--sizes 256x256,239x321] [--io image]

For each bundled network and palette6 / palette4: export with styleport's CoreML exporter, run the
file in styleport's ML Program interpreter on the held-out verification photos (eiffelTower,
montStMichel: never used for calibration or training) and print the worst case (PSNR dB / max abs on
0..255) against the float64 reference (``styleport.reference``, the float row) and against the
palette emulation (the file's k-means tables, the checkpoint's weights snapped to them: the second
condition, ``styleport.verification.emulate``). Multi-style networks run their first style.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from styleport import checkpoints, reference
from styleport.export import base as exporters
from styleport.export.base import ExportRequest
from styleport.export.calibration import images_at
from styleport.export.pipeline import Job, export_one
from styleport.metrics import psnr
from styleport.parity.command import parse_sizes
from styleport.precision import Precision
from styleport.runtimes import base as runtimes
from styleport.verification import emulate

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "styleport" / "data" / "models"
PHOTOS = tuple(ROOT / "styleport" / "data" / "samples" / n for n in ("eiffelTower.jpg", "montStMichel.jpg"))


def measure(path: Path, precision: Precision, sizes, io: str, folder: Path) -> tuple[float, float, float, float]:
    ckpt = checkpoints.load(path)
    model = ckpt.build("cpu").eval()
    w = reference.read_weights(path)
    sw = None if model.num_styles == 1 else np.eye(model.num_styles)[0]
    out = folder / f"{path.stem}_{precision.value}_{io}.mlpackage"
    request = ExportRequest("coreml", precision, tuple(sizes), (), {"io": io})
    export_one(model, ckpt, Job(exporters.get("coreml"), request, out), False, ())
    net = emulate.emulated_model(model, f"coreml:{precision.value}", (), emulate.coreml_palettes(out))
    weights = None if sw is None else torch.from_numpy(sw).float()[None]  # (S,) -> (1,S)
    worst = [np.inf, 0.0, np.inf, 0.0]
    with runtimes.get("coreml").open(out) as session:
        for image in images_at(list(PHOTOS), [s for s in sizes for _ in PHOTOS]):
            image = np.clip(np.rint(image), 0, 255).astype(np.float32)  # the 8-bit pixels the file sees
            got = session.run(image, None if sw is None else sw.astype(np.float32))
            with torch.no_grad():
                x = torch.from_numpy(image.transpose(2, 0, 1)[None].copy())  # (H,W,3) -> (1,3,H,W)
                emu = net(x, weights)[0].permute(1, 2, 0).double().numpy()  # (3,H,W) -> (H,W,3)
            ref = reference.forward(w, image.astype(np.float64), sw)
            worst = [
                min(worst[0], psnr(ref, got)),
                max(worst[1], float(np.abs(ref - got).max())),
                min(worst[2], psnr(emu, got)),
                max(worst[3], float(np.abs(emu - got).max())),
            ]
    return tuple(worst)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="", help="comma-separated names (default: every bundled network)")
    ap.add_argument("--sizes", default="256x256,239x321")
    ap.add_argument("--io", default="image", choices=("image", "tensor"))
    args = ap.parse_args(argv)
    names = [n for n in args.models.split(",") if n]
    paths = [MODELS / f"{n}.pth" for n in names] if names else sorted(MODELS.glob("*.pth"))
    sizes = parse_sizes(args.sizes)
    start = time.perf_counter()
    print("| network | precision | vs float reference (dB / max abs) | vs palette emulation (dB / max abs) |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            for precision in (Precision.PALETTE6, Precision.PALETTE4):
                f_db, f_abs, e_db, e_abs = measure(path, precision, sizes, args.io, Path(tmp))
                print(
                    f"| {path.stem} | {precision.value} | {f_db:.1f} / {f_abs:.3g} | {e_db:.1f} / {e_abs:.3g} |",
                    flush=True,
                )
    print(
        f"\n{args.io} I/O, sizes {args.sizes}, photos {', '.join(p.stem for p in PHOTOS)}; {time.perf_counter() - start:.0f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
